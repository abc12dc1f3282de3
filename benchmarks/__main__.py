"""``python -m benchmarks``: run the benchmarks, print the table, write JSON."""

from ._runner import main

if __name__ == "__main__":
    main()
