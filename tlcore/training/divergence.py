"""When training is diverging: the signs the epoch loop (tlcore.training.engine) checks after each epoch,
named in words for the run's message."""

from __future__ import annotations

import math

from tlcore.training.loop import LoopState

RISING_EPOCHS = 3  # epochs in a row with the training loss above its start that count as diverging
# After the first epoch, a training loss over this many times a blind guess's (ln of the classes: every class
# as likely) is confidently wrong on the model's own training images: diverging, however short the run.
BLIND_GUESSES = 2
TOO_LARGE_LOSS = "the training loss became too large to compute in epoch {epoch}"
GREW = "the training loss grew above where it started for {epochs} epochs in a row"
SURE_OF_WRONG = ("the training loss in epoch {epoch} was more than {times} times that of a blind guess, so the model "
                 "was sure of wrong answers")


def diverging(loss: float, epoch: int, state: LoopState, classes: int) -> str:
    """Why training is diverging, in words, or "" while it is not."""
    if not math.isfinite(loss):
        return TOO_LARGE_LOSS.format(epoch=epoch)
    if state.start_loss is None:
        state.start_loss = loss
    state.rising = state.rising + 1 if epoch > 1 and loss > state.start_loss else 0
    if state.rising >= RISING_EPOCHS:
        return GREW.format(epochs=RISING_EPOCHS)
    if epoch > 1 and loss > BLIND_GUESSES * math.log(classes):
        return SURE_OF_WRONG.format(epoch=epoch, times=BLIND_GUESSES)
    return ""
