"""Benchmark the matcher: 10,000 realistic terms over ≥ 50 MB of real Telegram text.

    python bench/match.py [--mb 50] [--terms 10000] [--regex-terms 100] [--seed 1]

Terms are generated from the corpus itself (``../shared/corpus/telegram-news-classifier``): words and
their pymorphy3 lemmas drawn from the middle of the frequency list (what watchlists name: places,
people, organizations, topics — not "и" or "в"), adjacent word pairs as phrases, boolean and
proximity combinations, prefixes, plus Ukrainian and English terms. The text is the corpus posts
repeated in shuffled order until ``--mb`` megabytes (UTF-8).

Printed, all on one core: compile time and peak RSS; full matching (normalization, scan, checks,
term evaluation, spans and snippets) in posts/s and MB/s; the same with terms that never fire (the
fixed per-post cost); normalization and tokenization alone, before any scan; the raw pyahocorasick scan of the same
literal forms over lower-cased text (iterating every overlapping hit in Python, nothing else); and a
per-term compiled-regex loop (each term's forms as one ``\\b(?:…)\\b`` alternation) measured on a
sample of terms and extrapolated to all of them.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

import ahocorasick

from monitor.match import MatchDoc, TermSpec, compile_matcher
from monitor.match.compiler import variant_key
from monitor.match.matcher import _FieldScan
from monitor.match.morph import EXACT, dict_parses
from monitor.match.normalize import matching_form, tokens_of

FREQUENT: frozenset[str] = frozenset()
CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
POSTS = CORPUS / "telegram-news-classifier" / "data" / "raw"

UK_WORDS = ["україна", "київ", "харків", "одеса", "львів", "дніпро", "зеленський", "уряд", "верховна", "рада", "міністр", "оборони", "збройні", "сили", "армія", "солдат", "офіцер", "обстріл", "наступ", "переговори", "санкції", "вибори", "прем'єр", "депутат", "партія", "закон", "бюджет", "енергетика", "війна", "безпека", "розвідка", "північнокорейський", "пхеньян", "кім", "чен", "ин", "кремль", "путін", "білорусь", "польща", "німеччина", "франція", "вашингтон", "євросоюз", "ґрунт", "м'ясо", "пшениця", "зерно", "електростанція", "безпілотник", "ураження", "полонений", "обмін", "гуманітарний", "допомога"]
UK_PHRASES = [
    "північнокорейські офіцери", "збройні сили", "верховна рада", "міністр оборони",
    "гуманітарна допомога", "енергетична інфраструктура", "ракетний удар", "мирні переговори",
    "прикордонна служба", "військова допомога", "обмін полоненими", "повітряна тривога",
]
EN_WORDS = ["officer", "soldier", "missile", "army", "president", "minister", "election", "sanction", "pipeline", "drone", "nuclear", "reactor", "satellite", "vaccine", "inflation", "refinery", "embassy", "summit", "ceasefire", "border", "kim", "jong", "un", "north", "korea", "pyongyang", "kremlin", "nato", "starbucks", "nasa", "spacex", "tesla", "apple", "google"]


def load_posts() -> list[str]:
    if not POSTS.is_dir():
        sys.exit(f"corpus not found at {POSTS}")
    posts: list[str] = []
    for f in sorted(POSTS.glob("*.json")):
        posts += [m["text"] for m in json.loads(f.read_text("utf-8")) if m.get("text")]
    return posts


def vocabulary(posts: list[str], max_df: float = 0.02
               ) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Words a watchlist would name: proper nouns (capitalized inside sentences) and the less
    frequent content words, with their lemmas; adjacent pairs of such words as phrases."""
    counts: collections.Counter[str] = collections.Counter()
    proper: collections.Counter[str] = collections.Counter()
    bigrams: collections.Counter[tuple[str, str]] = collections.Counter()
    df: collections.Counter[str] = collections.Counter()  # posts containing the word
    cap_re = re.compile(r"(?<=[a-zа-яё,] )([A-ZА-ЯЁ][a-zа-яё]{3,})")
    url_re = re.compile(r"https?://\S+|\S+\.(?:ru|com|org)\S*")
    for p in posts:
        p = url_re.sub(" ", p)
        toks = [t for t in tokens_of(matching_form(p)) if t.isalpha()]
        counts.update(toks)
        df.update(set(toks))
        bigrams.update(itertools.pairwise(toks))
        proper.update(matching_form(m) for m in cap_re.findall(p))
    ranked = [w for w, _ in counts.most_common() if len(w) >= 5]
    content = ranked[1500:12000]  # below the everyday vocabulary, above the hapaxes
    names = [w for w, c in proper.most_common() if c >= 2]
    # A watch term that fires on every 50th post is an alert flood nobody keeps: leave those out.
    frequent = {w for w, _ in counts.most_common(1500)} | {
        w for w, c in df.items() if c > len(posts) * max_df}
    def lemma(w: str) -> str:
        ps = dict_parses("ru", w) if re.search("[а-я]", w) else ()
        return ps[0].normal_form if ps else w

    # morphology makes a term of any form hit every form: filter on lemmas
    lemma_df: collections.Counter[str] = collections.Counter()
    for w, c in df.items():
        lemma_df[lemma(w)] += c
    frequent |= {lemma(w) for w in frequent} | {
        lm for lm, c in lemma_df.items() if c > len(posts) * max_df}
    names = [w for w in names if w not in frequent and lemma(w) not in frequent]
    content = [w for w in content if w not in frequent and lemma(w) not in frequent]
    words = names + content
    lemmas = []
    for w in words:
        ps = dict_parses("ru", w) if re.search("[а-я]", w) else ()
        if ps and (ps[0].normal_form in frequent or ps[0].tag.POS not in ("NOUN", "ADJF")):
            continue
        lemmas.append(ps[0].normal_form if ps else w)
    rare = set(words)
    pairs = [bg for bg, c in bigrams.most_common(40000)
             if c >= 2 and (bg[0] in rare or bg[1] in rare) and min(map(len, bg)) >= 4
             and not (set(bg) & frequent)][:6000]
    global FREQUENT
    FREQUENT = frozenset(frequent)
    return names, sorted(set(lemmas)), pairs


def make_terms(n: int, words: list[str], lemmas: list[str], pairs, rng: random.Random,
               frequent_words: frozenset[str] = frozenset()):
    def w() -> str:
        return rng.choice(lemmas) if rng.random() < 0.6 else rng.choice(words)

    terms: set[str] = set()
    while len(terms) < n:
        r = rng.random()
        if r < 0.30:
            q = w()
        elif r < 0.52:
            a, b = rng.choice(pairs)
            q = f'"{a} {b}"'
        elif r < 0.62:
            q = f"{w()} AND ({w()} OR {w()})"
        elif r < 0.67:
            q = f"{w()} -{w()}"
        elif r < 0.75:
            q = f"{w()} NEAR/{rng.randint(2, 6)} {w()}"
        elif r < 0.79:
            q = f"({w()} OR {w()}) NEAR/{rng.randint(3, 8)}f {w()}"
        elif r < 0.83:
            stem = rng.choice(words)
            q = stem[: max(5, len(stem) - 2)] + "*"
            if any(f.startswith(q[:-1]) for f in frequent_words):
                continue
        elif r < 0.88:
            q = rng.choice(UK_WORDS) if rng.random() < 0.6 else f'"{rng.choice(UK_PHRASES)}"'
            if rng.random() < 0.3:
                q += f" OR {rng.choice(UK_WORDS)}"
        elif r < 0.93:
            q = rng.choice(EN_WORDS) if rng.random() < 0.7 else \
                f'"{rng.choice(EN_WORDS)} {rng.choice(EN_WORDS)}"'
            if rng.random() < 0.5:
                q += f" {rng.choice(EN_WORDS)}"
        elif r < 0.96:
            q = f'"{rng.choice(pairs)[0]} {rng.choice(pairs)[1]}"~3'
        else:
            q = f"title:{w()} OR text:({w()} AND {w()})"
        terms.add(q)
    return sorted(terms)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="megabytes of text (UTF-8)")
    ap.add_argument("--terms", type=int, default=10_000)
    ap.add_argument("--regex-terms", type=int, default=100, help="terms sampled for the regex loop")
    ap.add_argument("--regex-mb", type=float, default=2.0, help="text for the regex sample")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-df", type=float, default=0.02,
                    help="leave out words found in more than this share of posts (0.02: a term "
                         "firing on every 50th post is an alert flood; lower = sparser hits)")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    posts = load_posts()
    words, lemmas, pairs = vocabulary(posts, args.max_df)
    queries = make_terms(args.terms, words, lemmas, pairs, rng, FREQUENT)
    docs: list[str] = []
    size = 0
    while size < args.mb * 1e6:
        batch = posts[:]
        rng.shuffle(batch)
        for p in batch:
            docs.append(p)
            size += len(p.encode("utf-8"))
            if size >= args.mb * 1e6:
                break
    mb = size / 1e6
    print(f"corpus: {len(posts)} posts; text: {len(docs)} posts, {mb:.1f} MB; terms: {len(queries)}")

    rss0 = rss_mb()
    t0 = time.perf_counter()
    matcher = compile_matcher([TermSpec(i, q) for i, q in enumerate(queries)])
    t_compile = time.perf_counter() - t0
    print(f"compile: {t_compile:.1f} s, {len(matcher.terms)} terms ok, {len(matcher.errors)} errors, "
          f"{len(matcher.table.variants)} literals, {matcher.keys} automaton keys, "
          f"peak RSS {rss_mb():.0f} MB (+{rss_mb() - rss0:.0f} MB)")
    for tid, err in list(matcher.errors.items())[:5]:
        print(f"  error in {queries[tid]!r}: {err} (at {err.position}, expected {err.expected})")

    # full semantics
    n_hits = 0
    matched_posts = 0
    t0 = time.perf_counter()
    for text in docs:
        hits = matcher.match(MatchDoc(text=text))
        n_hits += len(hits)
        matched_posts += bool(hits)
    t_match = time.perf_counter() - t0
    print(f"matcher: {len(docs) / t_match:,.0f} posts/s, {mb / t_match:.2f} MB/s "
          f"({n_hits:,} term hits, {matched_posts / len(docs):.0%} of posts hit)")

    # the same, without building snippets (what a backtest does past its first examples)
    t0 = time.perf_counter()
    for text in docs:
        matcher.match(MatchDoc(text=text), snippets=False)
    t_bare = time.perf_counter() - t0
    print(f"matcher, spans without snippets: {len(docs) / t_bare:,.0f} posts/s, {mb / t_bare:.2f} MB/s")

    # the per-post floor: same text, as many terms, none of which ever fires
    silent = compile_matcher([TermSpec(i, f'"zqxj{i} vqw"') for i in range(len(queries))])
    t0 = time.perf_counter()
    for text in docs:
        silent.match(MatchDoc(text=text))
    t_floor = time.perf_counter() - t0
    print(f"matcher floor (no term ever fires): {len(docs) / t_floor:,.0f} posts/s, "
          f"{mb / t_floor:.2f} MB/s")

    # what the text costs before any literal is looked for: folding (NFKC, casefold, invisible
    # characters, apostrophes, homoglyph repair) and tokenization into the scan string
    t0 = time.perf_counter()
    for text in docs:
        _FieldScan("text", 2, text)
    t_norm = time.perf_counter() - t0
    print(f"normalization + tokenization alone: {len(docs) / t_norm:,.0f} posts/s, {mb / t_norm:.2f} MB/s")

    # raw scan of the same literal forms
    raw = ahocorasick.Automaton()
    for variants in matcher.table.variants:
        for v in variants:
            key = variant_key(v)[0].strip()
            if key:
                raw.add_word(key, 1)
    raw.make_automaton()
    n_raw = 0
    t0 = time.perf_counter()
    for text in docs:
        for _ in raw.iter(text.lower()):
            n_raw += 1
    t_raw = time.perf_counter() - t0
    print(f"raw pyahocorasick scan: {mb / t_raw:.2f} MB/s ({n_raw:,} raw hits); "
          f"matcher/raw = {t_raw / t_match:.2f}x (floor/raw = {t_raw / t_floor:.2f}x, "
          f"normalization alone/raw = {t_raw / t_norm:.2f}x)")

    # per-term regex loop, sampled
    sample_terms = rng.sample(sorted(matcher.terms), min(args.regex_terms, len(matcher.terms)))
    regexes = []
    for tid in sample_terms:
        forms: set[str] = set()
        for lit in matcher.terms[tid].positive_lits or ():
            for v in matcher.table.variants[lit]:
                forms.add(r"\s+".join(re.escape(p.text) + (r"\w*" if p.kind != EXACT else "")
                                      for p in v))
        if forms:
            pat = r"\b(?:" + "|".join(sorted(forms, key=len, reverse=True)) + r")\b"
            regexes.append(re.compile(pat, re.IGNORECASE))
    rdocs: list[str] = []
    rsize = 0
    for text in docs:
        if rsize >= args.regex_mb * 1e6:
            break
        rdocs.append(text)
        rsize += len(text.encode("utf-8"))
    t0 = time.perf_counter()
    for text in rdocs:
        for rx in regexes:
            rx.search(text)
    t_rx = time.perf_counter() - t0
    per_term_mb = t_rx / len(regexes) / (rsize / 1e6)
    t_rx_full = per_term_mb * len(matcher.terms)
    print(f"regex loop: {len(regexes)} terms over {rsize / 1e6:.1f} MB took {t_rx:.1f} s -> "
          f"{1 / t_rx_full:.4f} MB/s extrapolated to {len(matcher.terms)} terms; "
          f"matcher/regex = {t_rx_full * mb / t_match:.0f}x")
    print(f"peak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
