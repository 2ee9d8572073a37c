"""The cue check: a coach's cue matched to the articles' own wording, with its stance."""
