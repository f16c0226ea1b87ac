"""`python -m keyform`."""

from keyform.cli import main

if __name__ == "__main__":
    main(prog_name="keyform")
