#!/usr/bin/env python3
"""Entry point: `python run.py --help` lists the commands."""

from scheduler.cli import main

if __name__ == "__main__":
    main()
