"""attune's front ends: the command line (`cli.py`) and the Textual app."""
