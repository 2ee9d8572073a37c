"""Optional written answers from a language model, checked sentence by sentence."""
