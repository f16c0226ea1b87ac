"""`keyform` and `python -m keyform`: the command line, run as a short-lived process (keyform.process)."""

from keyform.process import run_command


def run() -> None:
    """The `keyform` console command."""
    run_command(_main)


def _main() -> None:
    from keyform.cli import main  # imported inside run_command, so that its last-resort handler covers the import

    main(prog_name="keyform")


if __name__ == "__main__":
    run()
