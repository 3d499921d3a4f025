"""``python -m training``: the training pipeline CLI."""

from training.cli import main

if __name__ == "__main__":
    main()
