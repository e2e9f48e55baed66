"""Listening to tracks: the analyser's own niced process (scipy, soundfile); the daemon starts it
by module name (`python -m moodpi.music.analysis.analyser`) and never imports this package."""
