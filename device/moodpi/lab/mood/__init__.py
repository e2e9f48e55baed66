"""The mood tracker measured on labelled replays: the daemon run on them (bench), the scoring
(score) and the choice of its settings (grid)."""
