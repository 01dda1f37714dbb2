"""The tiny-LM distillation lab: corpus and tokenizer, models, training, metrics, run store."""
