"""``python -m benchmarks``: run the benchmarks, print the table, write JSON."""

import sys

from ._runner import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["realtime"]:  # Avatar Realtime (v3): benchmarks/realtime.py
        from .realtime import main as realtime_main

        realtime_main(sys.argv[2:])
    elif sys.argv[1:2] == ["liveavatar"]:  # LiveAvatar: benchmarks/liveavatar.py
        from .liveavatar import main as liveavatar_main

        liveavatar_main(sys.argv[2:])
    else:
        main()
