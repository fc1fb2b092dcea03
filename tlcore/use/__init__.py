"""A trained model at work: prediction, explanations, exports, the model card, the live camera."""
