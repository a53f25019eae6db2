"""attune's terminal front ends: the command line (`cli/`) and the Textual app (`app/`),
independent of each other; `main.py` is the `attune` program that holds both."""
