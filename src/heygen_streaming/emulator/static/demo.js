// streaming.new placeholder
