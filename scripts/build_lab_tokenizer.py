"""Train the lab's byte-level BPE on the training split of pydoc_data.topics and write
kdviz/lab/assets/tokenizer.json (deterministic: running it again gives the same file)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kdviz.lab import data  # noqa: E402

if __name__ == "__main__":
    data.ASSETS.mkdir(exist_ok=True)
    tok = data.train_tokenizer()
    tok.save(str(data.TOKENIZER_PATH))
    print(f"wrote {data.TOKENIZER_PATH} ({tok.get_vocab_size()} tokens, "
          f"{data.TOKENIZER_PATH.stat().st_size / 1e3:.0f} kB)")
