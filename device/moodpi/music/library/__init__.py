"""The music library: scan, SQLite cache, playlists, and the thread that keeps them current."""
