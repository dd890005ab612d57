"""`python -m monitor`. The guard matters: the analysis pool's processes (forkserver) import the
main module again, and must not start the command line a second time."""

from monitor.cli.main import main

if __name__ == "__main__":
    main()
