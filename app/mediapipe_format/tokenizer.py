"""Deterministic tiny SentencePiece tokenizer for test models (docs/mediapipe-web.md §6.6).

Why training (not a hand-built ModelProto): the verified tiny models used a BPE model trained
by the ``sentencepiece`` package with its default normalizer, so we do the same. The corpus
is built in and generated without randomness, and training runs on one thread, so the
model bytes are identical on every run (for a given sentencepiece version).
"""

from __future__ import annotations

import io
import os
from functools import cache

import sentencepiece as spm

__all__ = ["SPECIAL_PIECES", "build_tokenizer", "corpus_lines", "load_tokenizer"]

SPECIAL_PIECES = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>"}
"""Ids the runtime relies on: start_token_id=2 and the stop token ``<eos>`` (§6.4)."""

_WORDS_TEXT = (
    "the a an and of to in is it that for on with as was at by be this from or have not are "
    "but what all were when we there can one your which their said if will each about how up "
    "out them then she many some so these would other into has more her two like him see time "
    "could no make than first been its who now people my made over did down only way find use "
    "may water long little very after words called just where most know hello world model "
    "adapter train answer question please thanks good great small large fast slow code data"
)
_WORDS = tuple(_WORDS_TEXT.split())

_FIXED_LINES = (
    "hello world",
    "Hello, World!",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG?",
    "0123456789 + - * / = < > ( ) [ ] { } # $ % & @ ^ _ ` ~ | \\ ' \" : ; ,",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "user: what is a LoRA adapter? model: a small low-rank update.",
)


def corpus_lines() -> list[str]:
    """The fixed training corpus: hand-written lines plus word combinations from a fixed rule."""
    lines = list(_FIXED_LINES)
    n = len(_WORDS)
    punct = ".,!?"
    for i in range(1500):
        length = 4 + (i * 7) % 9
        words = [_WORDS[(i * 31 + k * 17 + (i // n) * 3) % n] for k in range(length)]
        if i % 5 == 0:
            words[0] = words[0].capitalize()
        lines.append(" ".join(words) + punct[i % len(punct)])
    return lines


@cache
def build_tokenizer(vocab_size: int = 256) -> bytes:
    """Return serialized ``tokenizer.model`` bytes (BPE; pad 0, eos 1, bos 2, unk 3)."""
    out = io.BytesIO()
    with open(os.devnull, "w") as devnull:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus_lines()),
            model_writer=out,
            logstream=devnull,
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=1.0,
            num_threads=1,
            pad_id=0,
            eos_id=1,
            bos_id=2,
            unk_id=3,
            pad_piece=SPECIAL_PIECES[0],
            eos_piece=SPECIAL_PIECES[1],
            bos_piece=SPECIAL_PIECES[2],
            unk_piece=SPECIAL_PIECES[3],
        )
    model = out.getvalue()
    sp = load_tokenizer(model)
    if sp.get_piece_size() != vocab_size:
        raise RuntimeError(f"trained tokenizer has {sp.get_piece_size()} pieces, wanted {vocab_size}")
    for piece_id, piece in SPECIAL_PIECES.items():
        if sp.id_to_piece(piece_id) != piece:
            raise RuntimeError(f"tokenizer id {piece_id} is {sp.id_to_piece(piece_id)!r}, wanted {piece!r}")
    return model


def load_tokenizer(model: bytes) -> spm.SentencePieceProcessor:
    """Load serialized model bytes into a processor (also how tests check the model is valid)."""
    return spm.SentencePieceProcessor(model_proto=model)
