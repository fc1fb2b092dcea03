"""From inputs to a trained, scored model: the engine, its loop, features, reporters, torchrun."""
