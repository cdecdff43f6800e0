"""Word normalisation and 64-bit word n-gram hashes, computed for a whole batch of texts at once in numpy.

Why vectorised: a per-text Python loop that builds n-gram strings (open-r1's decontaminate script) runs at
~50k texts/s; decontaminating a 1M-row augmentation run against every evaluation set should cost seconds.
Here a batch of texts is joined into one byte string and normalised with one `bytes.translate`; each word is
hashed from its bytes read as unaligned little-endian 8-byte integers, and each n-gram hash is a difference
of prefix sums over the word hashes, so Python does a constant amount of work per batch.

Normalisation (the same for evaluation items and queries, see `reference_tokens`, the slow spelled-out twin
the tests compare against):
- Asymptote figure code (`[asy]...[/asy]`) is dropped: MATH shares plotting boilerplate across problems.
- ASCII letters are lower-cased; every ASCII character that is not a letter or digit separates words;
  non-ASCII characters stay inside words as they are (curly apostrophes are first made straight).
- Digits are masked ("48" and "1,200" both become one number token NUM): changing a problem's numbers is
  the commonest edit that turns a test item into "new" training data, so number changes must not hide it.
  A run of number tokens counts as one (so "3.5" -> "4" keeps the word positions aligned).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)
SEP = "\x1f"  # joins the texts of a batch; a byte no benchmark text contains (checked per batch)
_M64 = (1 << 64) - 1
_Q = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
NUM_HASH = np.uint64(0x5BD1E9955BD1E995)  # the hash every number token gets


def _inverse(a: int) -> int:
    x = a  # Newton iteration for the inverse modulo 2**64 (a*a == 1 mod 8 for odd a)
    for _ in range(6):
        x = (x * (2 - a * x)) & _M64
    return x


PROSE = " .,!?;:'\"`"  # punctuation that never changes a problem; other symbols (< > = + ^ $ ...) may


def _byte_table(mask_digits: bool, keep_symbols: bool = False) -> bytes:
    table = bytearray(range(256))
    for b in range(128):
        ch = chr(b)
        if ch.isdigit():
            table[b] = ord("0") if mask_digits else b
        elif "A" <= ch <= "Z":
            table[b] = ord(ch.lower())
        elif not ("a" <= ch <= "z") and ch != SEP and not (keep_symbols and ch.isprintable() and ch not in PROSE):
            table[b] = ord(" ")
    return bytes(table)


TABLE, RAW_TABLE, SYMBOL_TABLE = _byte_table(True), _byte_table(False), _byte_table(False, keep_symbols=True)
_SYMBOL = re.compile(r"([^\w\s.,!?;:'\"`])")


class _Powers:
    """P**i and P**-i modulo 2**64 for i < n, grown on demand (shared by every batch)."""

    def __init__(self, base: int):
        self.base, self.inv = base, _inverse(base)
        self.pow = self.ipow = np.ones(0, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.pow) < n:
            size = max(n, 2 * len(self.pow), 1 << 16)
            self.pow = np.cumprod(np.full(size, self.base, dtype=np.uint64)) * np.uint64(self.inv)
            self.ipow = np.cumprod(np.full(size, self.inv, dtype=np.uint64)) * np.uint64(self.base)
        return self.pow[:n], self.ipow[:n]


_WORD_POW = _Powers(_Q)
# Little-endian 8-byte loads: MASKS[k] keeps a word's first k bytes, ZEROS[k] is k masked digits ("000...").
MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [_M64], dtype=np.uint64)
ZEROS = np.array([int.from_bytes(b"0" * k, "little") for k in range(9)], dtype=np.uint64)
_WORD_MASK = bytes(0 if b in (ord(" "), ord(SEP)) else 1 for b in range(256))


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: makes word hashes look random before they are combined into n-gram hashes."""
    h = h ^ (h >> np.uint64(30))
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _strip_asy(joined: str) -> str:
    """Drop every closed [asy]...[/asy] block (str.find is much faster than a regex over a whole batch)."""
    out, pos = [], 0
    while (i := joined.find("[asy]", pos)) >= 0:
        k = joined.find(SEP, i)
        j = joined.find("[/asy]", i, len(joined) if k < 0 else k)
        if j < 0:  # not closed inside this text: keep it, like ASY.sub would
            out.append(joined[pos:i + 5])
            pos = i + 5
            continue
        out += (joined[pos:i], " ")
        pos = j + 6
    return "".join(out) + joined[pos:] if out else joined


def _prepare(texts: Sequence[str], symbols: bool = False) -> str:
    joined = SEP.join(texts)
    if joined.count(SEP) != len(texts) - 1:
        joined = SEP.join(t.replace(SEP, " ") for t in texts)
    if "’" in joined:
        joined = joined.replace("’", "'")
    if symbols:  # dedup: every symbol its own word, non-ASCII case folded, figures kept (part of the problem)
        return _SYMBOL.sub(r" \1 ", joined if joined.isascii() else joined.lower())
    return _strip_asy(joined)


def word_hashes(texts: Sequence[str], mask_numbers: bool = True, symbols: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Hash every normalised word of every text.

    mask_numbers=False keeps digits; symbols=True (for dedup, where "k < 0" and "k > 0" are different
    problems) keeps digits, makes each ASCII symbol except prose punctuation a word of its own and keeps
    Asymptote code.

    Returns (hashes uint64[W], offsets int64[len(texts)+1]): text i's words are hashes[offsets[i]:offsets[i+1]].
    """
    if not texts:
        return np.zeros(0, np.uint64), np.zeros(1, np.int64)
    mask_numbers = mask_numbers and not symbols
    table = SYMBOL_TABLE if symbols else TABLE if mask_numbers else RAW_TABLE
    data = _prepare(texts, symbols).encode("utf-8").translate(table)
    n = len(data)
    in_word = np.zeros(n + 2, dtype=bool)
    in_word[1:-1] = np.frombuffer(data.translate(_WORD_MASK), dtype=bool)
    edges = np.flatnonzero(in_word[1:] != in_word[:-1])  # (bool arrays take numpy's fast nonzero path)
    starts, ends = edges[0::2], edges[1::2]  # word boundaries alternate: start, end, start, end, ...
    lengths = ends - starts
    # A word's hash: its bytes read 8 at a time as little-endian integers, chained through a mixer.
    # `at[i]` is the (unaligned) 8-byte integer starting at byte i.
    padded = np.frombuffer(data + bytes(8 + (-n) % 8), dtype=np.uint64)
    at = np.lib.stride_tricks.as_strided(padded, shape=(n + 1,), strides=(1,))
    first = np.minimum(lengths, 8)
    chunk = at[starts] & MASKS[first]
    h = chunk ^ (lengths.astype(np.uint64) << np.uint64(56))
    is_num = chunk == ZEROS[first] if mask_numbers else None
    long = np.flatnonzero(lengths > 8)
    offset = 8
    while len(long):
        rest = np.minimum(lengths[long] - offset, 8)
        more = at[starts[long] + offset] & MASKS[rest]
        h[long] = _mix(h[long]) ^ more
        if mask_numbers:
            is_num[long] &= more == ZEROS[rest]
        offset += 8
        long = long[lengths[long] > offset]
    words = _mix(h)
    # Text boundaries: the first word after each separator.
    seps = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord(SEP))
    offsets = np.concatenate([[0], np.searchsorted(starts, seps), [len(words)]]).astype(np.int64)
    if not mask_numbers:
        return words, offsets
    words[is_num] = NUM_HASH
    # Collapse runs of number tokens inside a text into one.
    repeat = np.zeros(len(words), dtype=bool)
    repeat[1:] = is_num[1:] & is_num[:-1]
    repeat[offsets[:-1][offsets[:-1] < len(words)]] = False  # a text's first word never repeats its neighbour
    if repeat.any():
        removed = np.concatenate([[0], np.cumsum(repeat)])
        words, offsets = words[~repeat], offsets - removed[offsets]
    return words, offsets


def ngram_hashes(words: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word n-gram that lies inside one text, and the index of that text."""
    total = len(words)
    if total < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    pw, ipw = _WORD_POW.get(total)
    prefix = np.zeros(total + 1, dtype=np.uint64)
    np.cumsum(words * pw, out=prefix[1:])
    grams = (prefix[n:] - prefix[:-n]) * ipw[: total - n + 1]
    doc_of_word = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    inside = doc_of_word[: total - n + 1] == doc_of_word[n - 1:]
    return grams[inside], doc_of_word[: total - n + 1][inside]


# --- the slow, obvious version: documents the normalisation and lets tests check the fast one ---

def reference_tokens(text: str) -> list[str]:
    text = ASY.sub(" ", text.replace(SEP, " ").replace("’", "'"))
    out: list[str] = []
    for word in text.encode("utf-8").translate(TABLE).decode("utf-8", "replace").split(" "):
        if not word:
            continue
        is_num = set(word) == {"0"}
        if is_num and out and out[-1] == "NUM":
            continue
        out.append("NUM" if is_num else word)
    return out


# --- an index of evaluation n-grams, and batched, parallel matching of queries against it ---

_BLOOM_BITS = 24  # a 16 MiB byte table: cheap first test that rejects almost every query n-gram


class NgramIndex:
    """Every distinct word n-gram of a list of texts (the evaluation items), hashed to 64 bits.

    `match(queries)` finds, for each query, the indexed text sharing the most distinct n-grams with it.
    With max_df, n-grams occurring in more than max_df distinct indexed texts are dropped as boilerplate.
    Off by default: once Asymptote code is stripped, the most widespread 13-grams of the evaluation sets are
    real template families (SVAMP/MAWPS variants of one ASDiv problem), which must stay matchable.
    """

    def __init__(self, texts: Sequence[str], n: int = 13, max_df: int | None = None):
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        self.n, self.size = n, len(texts)
        words, offsets = word_hashes(texts)
        self.text_words = np.diff(offsets)
        grams, doc = ngram_hashes(words, offsets, n)
        pairs = np.unique(np.stack([grams, doc.astype(np.uint64)], axis=1), axis=0)
        grams, doc = pairs[:, 0], pairs[:, 1].astype(np.int64)
        self.text_ngrams = np.bincount(doc, minlength=len(texts))  # distinct n-grams per text
        keys, first, df = np.unique(grams, return_index=True, return_counts=True)
        common = df > max_df if max_df else np.zeros(len(keys), bool)
        self.dropped_boilerplate = int(common.sum())
        self.keys, self.first, self.df = keys[~common], first[~common], df[~common]
        self.post_doc = doc  # postings: texts of keys[i] are post_doc[first[i]:first[i]+df[i]]
        self.bloom = np.zeros(1 << _BLOOM_BITS, dtype=bool)
        self.bloom[self.keys >> np.uint64(64 - _BLOOM_BITS)] = True

    def _match_words(self, words: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
        sizes = np.diff(offsets)
        short = np.flatnonzero(sizes < self.n)
        grams, q = ngram_hashes(words, offsets, self.n)
        maybe = self.bloom[grams >> np.uint64(64 - _BLOOM_BITS)]
        grams, q = grams[maybe], q[maybe]
        pos = np.minimum(np.searchsorted(self.keys, grams), max(len(self.keys) - 1, 0))
        hit = self.keys[pos] == grams if len(self.keys) else np.zeros(len(grams), bool)
        if not hit.any():
            return (np.zeros(0, np.int64),) * 4 + (short,)
        q, pos = q[hit], pos[hit]
        # One vote per distinct (query, n-gram), spread over every text holding that n-gram.
        pair = np.unique(q * len(self.keys) + pos)
        q, pos = pair // len(self.keys), pair % len(self.keys)
        counts = self.df[pos]
        shift = np.repeat(self.first[pos] - np.cumsum(counts) + counts, counts)
        docs = self.post_doc[shift + np.arange(len(shift))]
        qd, shared = np.unique(np.repeat(q, counts) * self.size + docs, return_counts=True)
        q, docs = qd // self.size, qd % self.size
        # Best text per query: most shared n-grams, ties to the lowest text index.
        order = np.lexsort((docs, -shared, q))
        first = np.ones(len(order), bool)
        first[1:] = q[order][1:] != q[order][:-1]
        best = order[first]
        return q[best], docs[best], shared[best], sizes[q[best]] - self.n + 1, short

    def match_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
        """For the queries sharing an n-gram with an indexed text: (query index, best text index, distinct
        n-grams shared, n-grams in the query); and the indices of queries too short to have an n-gram."""
        words, offsets = word_hashes(texts)
        return self._match_words(words, offsets)

    def match(self, texts: Sequence[str], workers: int = 1, batch_chars: int = 1 << 20) -> tuple[np.ndarray, ...]:
        """`match_batch` over any number of texts, in batches of ~batch_chars, on `workers` processes."""
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        cuts = np.searchsorted(np.cumsum(lengths), np.arange(batch_chars, lengths.sum() + batch_chars, batch_chars))
        bounds = np.unique(np.concatenate([[0], np.minimum(cuts + 1, len(texts)), [len(texts)]]))
        spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
        if workers > 1 and len(spans) > 1:
            parts = _parallel(self, texts, spans, workers)
        else:
            parts = [self.match_batch(texts[a:b]) for a, b in spans]
        if not parts:
            return (np.zeros(0, np.int64),) * 5
        cols = list(zip(*parts))
        starts = [a for a, _ in spans]
        q = np.concatenate([c + a for c, a in zip(cols[0], starts)])
        short = np.concatenate([c + a for c, a in zip(cols[4], starts)])
        return q, np.concatenate(cols[1]), np.concatenate(cols[2]), np.concatenate(cols[3]), short


_SHARED: tuple | None = None  # (index, texts), inherited by forked workers instead of pickled to them


def _work(span: tuple[int, int]):
    index, texts = _SHARED
    return index.match_batch(texts[span[0]:span[1]])


def _parallel(index: NgramIndex, texts: Sequence[str], spans, workers: int):
    import multiprocessing

    global _SHARED
    _SHARED = (index, texts)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_work, spans, chunksize=1)
    finally:
        _SHARED = None


def text_hashes(words: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One hash per text of its whole word sequence: equal hashes mean equal normalised texts."""
    total = len(words)
    pw, ipw = _WORD_POW.get(total + 1)
    prefix = np.zeros(total + 1, dtype=np.uint64)
    np.cumsum(words * pw[:total], out=prefix[1:])
    starts, ends = offsets[:-1], offsets[1:]
    h = (prefix[ends] - prefix[starts]) * ipw[np.minimum(starts, total)]
    return _mix(h ^ (ends - starts).astype(np.uint64))
