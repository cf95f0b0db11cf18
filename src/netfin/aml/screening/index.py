"""The candidate index: built once per set of list versions, then queried for every name screened.

Retrieval is broad and cheap, scoring narrow and careful:

1. **Vocabulary.** Every token of every list name (primary names and
   aliases, after ``normalise.forms``) is a vocabulary entry with an inverse
   document frequency and a posting array of the names holding it. A query
   token reaches vocabulary tokens three ways: the same token, the same
   Metaphone key (``mohammed`` -> ``muhammad``) and a shared single-deletion
   key (SymSpell-style, for tokens of four letters or more, so that any one
   typo - a substitution, insertion, deletion or transposition - still
   meets its token). Each reached token is kept with its similarity.
2. **Retrieval.** The postings of the reached tokens, weighted by IDF and
   similarity, are summed per name with ``numpy.bincount``; a weighted
   Jaccard of matched against query and name weight ranks the names, and the
   best ``rescore_max`` go on. Identifiers the subject carries fetch their
   entries directly, whatever the name.
3. **Scoring.** Each retrieved name is aligned with the query token by
   token (Levenshtein similarity, raised to ``phonetic_agreement`` when the
   Metaphone keys agree; greedy one-to-one). The name score is the mean of
   the weighted coverage of the query and of the listed name, so an extra or
   a dropped middle name costs about a sixth, never the whole match; token
   order never matters. Date of birth, country, identifiers, kind and alias
   quality then move the score (``Weights``), each as a piece of evidence;
   a matching identifier lifts a candidate to at least the review threshold,
   whatever its name.

The index is immutable after construction and safe to share between threads;
its only mutable part is a bounded cache of query-token lookups.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from netfin.aml.screening.lists import LoadedList
from netfin.aml.screening.model import (
    AliasQuality,
    Candidate,
    Decision,
    EntryKind,
    Evidence,
    ListEntry,
    ScreeningConfig,
    ScreeningSubject,
)
from netfin.aml.screening.normalise import (
    forms,
    has_vowels,
    original_script_key,
    phonetic_key,
    skeleton_key,
    sorted_key,
    token_weight,
)
from netfin.core.errors import invariant

DELETION_TOKEN_LENGTH_MIN = 4
PHONETIC_TOKEN_LENGTH_MIN = 3
SKELETON_LENGTH_MIN = 3
TOKEN_SIMILARITY_MIN = 0.6
ALIGN_SIMILARITY_MIN = 0.5
INITIAL_SIMILARITY = 0.6
NAME_SCORE_FLOOR = 0.55
SORT_RETRIEVAL_MAX = 3000  # below this many postings, sorting them beats a pass over every name
TOKEN_CACHE_MAX = 100_000
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float64)


def _deletions(token: str) -> set[str]:
    return {token[:i] + token[i + 1 :] for i in range(len(token))}


@dataclass(frozen=True, slots=True)
class _Name:
    entry: int
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    compact: str
    quality: AliasQuality
    text: str


def _name(entry: int, tokens: tuple[str, ...], quality: AliasQuality, text: str) -> _Name:
    return _Name(
        entry, tokens, tuple(token_weight(t) for t in tokens), "".join(sorted(tokens)), quality, text
    )


Pair = tuple[str, str, float, bool]


@dataclass(frozen=True, slots=True)
class _Scored:
    score: float
    name: _Name
    pairs: tuple[Pair, ...]


def token_similarity(a: str, b: str, phonetic_agreement: float) -> tuple[float, bool]:
    """Similarity of two folded tokens in [0, 1], and whether their phonetic keys agree."""
    if a == b:
        return 1.0, False
    if len(a) == 1 or len(b) == 1:
        return (INITIAL_SIMILARITY if a[0] == b[0] else 0.0), False
    similarity = Levenshtein.normalized_similarity(a, b)
    if min(len(a), len(b)) >= PHONETIC_TOKEN_LENGTH_MIN and _sounds_alike(a, b):
        return max(similarity, phonetic_agreement), True
    return similarity, False


def _sounds_alike(a: str, b: str) -> bool:
    """Same Metaphone key, or (where either token has no vowels) the same consonant skeleton."""
    if phonetic_key(a) == phonetic_key(b):
        return True
    if has_vowels(a) and has_vowels(b):
        return False
    skeleton = skeleton_key(a)
    return len(skeleton) >= SKELETON_LENGTH_MIN and skeleton == skeleton_key(b)


TokenKeys = tuple[str, str, bool]  # phonetic key, consonant skeleton ("" when unused), has vowels


def token_keys(token: str) -> TokenKeys:
    if len(token) < PHONETIC_TOKEN_LENGTH_MIN or not token.isalpha():
        return ("", "", True)
    skeleton = skeleton_key(token)
    return (phonetic_key(token), skeleton if len(skeleton) >= SKELETON_LENGTH_MIN else "", has_vowels(token))


class _Similarities:
    """Token similarities between one query and many listed tokens, computed in one batch."""

    def __init__(
        self,
        query: tuple[str, ...],
        listed: Sequence[str],
        phonetic_agreement: float,
        keys: dict[str, TokenKeys] | None = None,
    ) -> None:
        self.columns = {token: j for j, token in enumerate(listed)}
        matrix = cdist(query, listed, scorer=Levenshtein.normalized_similarity, dtype=np.float32)
        self.phonetic: set[tuple[int, int]] = set()
        by_key: dict[str, list[int]] = {}
        by_skeleton: dict[str, list[tuple[int, bool]]] = {}
        for j, token in enumerate(listed):
            phonetic, skeleton, vowels = keys[token] if keys is not None else token_keys(token)
            if phonetic:
                by_key.setdefault(phonetic, []).append(j)
            if skeleton:
                by_skeleton.setdefault(skeleton, []).append((j, vowels))
            if len(token) == 1:
                for i, q in enumerate(query):
                    matrix[i, j] = INITIAL_SIMILARITY if q[0] == token and len(q) > 1 else matrix[i, j]
        for i, q in enumerate(query):
            if len(q) == 1:
                for j, token in enumerate(listed):
                    if len(token) > 1:
                        matrix[i, j] = INITIAL_SIMILARITY if token[0] == q else 0.0
                continue
            phonetic, skeleton, vowels = token_keys(q)
            alike = by_key.get(phonetic, []) if phonetic else []
            if skeleton:
                alike = alike + [j for j, other in by_skeleton.get(skeleton, ()) if not (vowels and other)]
            for j in alike:
                if matrix[i, j] < 1.0:
                    self.phonetic.add((i, j))
                    matrix[i, j] = max(matrix[i, j], phonetic_agreement)
        self.rows: list[list[float]] = matrix.tolist()


def _align(
    query: tuple[str, ...],
    query_weights: tuple[float, ...],
    name: _Name,
    similarities: _Similarities,
    share: float,
) -> tuple[float, tuple[Pair, ...]]:
    pairs: list[tuple[float, str, str, int, int]] = []
    columns, rows = similarities.columns, similarities.rows
    for j, n in enumerate(name.tokens):
        column = columns[n]
        for i, q in enumerate(query):
            similarity = rows[i][column]
            if similarity >= ALIGN_SIMILARITY_MIN:
                pairs.append((similarity, q, n, i, j))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_q: set[int] = set()
    used_n: set[int] = set()
    chosen: list[Pair] = []
    q_matched = n_matched = 0.0
    for similarity, q, n, i, j in pairs:
        if i in used_q or j in used_n:
            continue
        used_q.add(i)
        used_n.add(j)
        chosen.append((q, n, similarity, (i, columns[n]) in similarities.phonetic))
        q_matched += query_weights[i] * similarity
        n_matched += name.weights[j] * similarity
    q_cover = q_matched / sum(query_weights)
    n_cover = n_matched / sum(name.weights)
    if len(chosen) >= 2:
        score = share * max(q_cover, n_cover) + (1.0 - share) * min(q_cover, n_cover)
    else:
        score = 0.5 * (q_cover + n_cover)
    return min(score, 1.0), tuple(sorted(chosen))


def align(
    query: tuple[str, ...], listed: tuple[str, ...], phonetic_agreement: float, coverage_share: float = 0.7
) -> tuple[float, tuple[Pair, ...]]:
    """Order-free name similarity in [0, 1] and the token pairs behind it.

    Greedy one-to-one alignment by similarity (ties broken on the tokens
    themselves, so neither name's token order matters). With two or more
    tokens aligned, the score weighs the better-covered side by
    ``coverage_share`` and the other by the rest, so an extra or dropped
    middle name costs a little; with one token aligned it is the plain mean
    of both coverages, so one shared token never makes a match.
    """
    if not query or not listed:
        return 0.0, ()
    name = _name(0, listed, AliasQuality.STRONG, " ".join(listed))
    similarities = _Similarities(query, list(dict.fromkeys(listed)), phonetic_agreement)
    return _align(query, tuple(token_weight(t) for t in query), name, similarities, coverage_share)


class ScreeningIndex:
    """Every name of every loaded list, indexed for broad retrieval and careful scoring."""

    def __init__(self, lists: Sequence[LoadedList], config: ScreeningConfig) -> None:
        self.config = config
        self.versions = {loaded.list_id: loaded.version for loaded in lists}
        self.entries: list[ListEntry] = [e for loaded in lists for e in loaded.entries]
        self._names: list[_Name] = []
        self._script: dict[str, list[int]] = {}
        self._identifiers: dict[str, list[int]] = {}
        vocabulary: dict[str, list[int]] = {}
        for entry_index, entry in enumerate(self.entries):
            self._add_entry(entry_index, entry, vocabulary)
        self._vocab = list(vocabulary)
        self._postings = [np.asarray(sorted(set(ids)), dtype=np.int32) for ids in vocabulary.values()]
        names_total = max(len(self._names), 1)
        self._idf = np.asarray(
            [math.log(1.0 + names_total / len(p)) for p in self._postings], dtype=np.float64
        )
        self._idf_max = float(self._idf.max()) if len(self._idf) else 1.0
        self._exact = {token: i for i, token in enumerate(self._vocab)}
        self._phonetic: dict[str, list[int]] = {}
        self._deleted: dict[str, list[int]] = {}
        self._skeleton: dict[str, list[int]] = {}
        for i, token in enumerate(self._vocab):
            if len(token) >= PHONETIC_TOKEN_LENGTH_MIN and token.isalpha():
                self._phonetic.setdefault(phonetic_key(token), []).append(i)
                if len(skeleton := skeleton_key(token)) >= SKELETON_LENGTH_MIN:
                    self._skeleton.setdefault(skeleton, []).append(i)
            if len(token) >= DELETION_TOKEN_LENGTH_MIN:
                for key in _deletions(token) | {token}:
                    self._deleted.setdefault(key, []).append(i)
        name_weights = np.zeros(len(self._names), dtype=np.float64)
        for v, postings in enumerate(self._postings):
            name_weights[postings] += self._idf[v]
        self._name_weight = name_weights
        self._keys = {token: token_keys(token) for token in self._vocab}
        self._name_entry = np.asarray([n.entry for n in self._names], dtype=np.int32)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        self._cache_lock = threading.Lock()

    def _add_entry(self, entry_index: int, entry: ListEntry, vocabulary: dict[str, list[int]]) -> None:
        for text, quality in entry.names():
            for tokens in forms(text):
                name_id = len(self._names)
                self._names.append(_name(entry_index, tokens, quality, text))
                for token in set(tokens):
                    vocabulary.setdefault(token, []).append(name_id)
        for script in entry.original_script:
            self._script.setdefault(original_script_key(script), []).append(entry_index)
        for identifier in entry.identifiers:
            if identifier.key:
                self._identifiers.setdefault(identifier.key, []).append(entry_index)

    @property
    def names_count(self) -> int:
        return len(self._names)

    # --- retrieval ------------------------------------------------------------------------------

    def _reach(self, token: str) -> tuple[np.ndarray, np.ndarray, float]:
        """Names holding a token like ``token``, each with IDF x similarity; and the token's own weight."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        reached: set[int] = set()
        if token in self._exact:
            reached.add(self._exact[token])
        if len(token) >= PHONETIC_TOKEN_LENGTH_MIN and token.isalpha():
            reached.update(self._phonetic.get(phonetic_key(token), ()))
            if not has_vowels(token):
                reached.update(self._skeleton.get(skeleton_key(token), ()))
        if len(token) >= DELETION_TOKEN_LENGTH_MIN:
            for key in _deletions(token) | {token}:
                reached.update(self._deleted.get(key, ()))
        ids: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        own = self._idf_max
        agreement = self.config.weights.phonetic_agreement
        for v in sorted(reached):
            similarity, _ = token_similarity(token, self._vocab[v], agreement)
            if similarity < TOKEN_SIMILARITY_MIN:
                continue
            ids.append(self._postings[v])
            weights.append(np.full(len(self._postings[v]), self._idf[v] * similarity))
            if similarity == 1.0:
                own = float(self._idf[v])
        found = (
            (np.concatenate(ids), np.concatenate(weights), own) if ids else (_EMPTY_IDS, _EMPTY_WEIGHTS, own)
        )
        with self._cache_lock:
            if len(self._cache) >= TOKEN_CACHE_MAX:
                self._cache.clear()
            self._cache[token] = found
        return found

    def retrieve(self, tokens: tuple[str, ...], limit: int) -> list[int]:
        """Ids of the ``limit`` names sharing the most (IDF-weighted) with the query tokens."""
        reached = [self._reach(t) for t in set(tokens)]
        ids = [r[0] for r in reached if len(r[0])]
        if not ids:
            return []
        all_ids = np.concatenate(ids)
        all_weights = np.concatenate([r[1] for r in reached if len(r[0])])
        query_weight = sum(r[2] for r in reached)
        if len(all_ids) <= SORT_RETRIEVAL_MAX:
            hit, inverse = np.unique(all_ids, return_inverse=True)
            overlap = np.bincount(inverse, all_weights)
        else:
            matched = np.bincount(all_ids, all_weights, len(self._names))
            hit = np.flatnonzero(matched)
            overlap = matched[hit]
        rank = overlap / (query_weight + self._name_weight[hit] - np.minimum(overlap, self._name_weight[hit]))
        if len(hit) > limit:
            best = np.argpartition(-rank, limit - 1)[:limit]
            hit, rank = hit[best], rank[best]
        order = np.lexsort((hit, -rank))
        return [int(i) for i in hit[order]]

    # --- scoring --------------------------------------------------------------------------------

    def _best_names(self, subject: ScreeningSubject) -> dict[int, _Scored]:
        """Best-scoring name per entry, over every form of the subject's name."""
        best: dict[int, _Scored] = {}
        weights = self.config.weights
        for tokens in forms(subject.name):
            names = [self._names[i] for i in self.retrieve(tokens, self.config.rescore_max)]
            if not names:
                continue
            listed = list(dict.fromkeys(t for n in names for t in n.tokens))
            similarities = _Similarities(tokens, listed, weights.phonetic_agreement, self._keys)
            query_weights = tuple(token_weight(t) for t in tokens)
            compact = "".join(sorted(tokens))
            for name in names:
                if name.compact == compact:
                    score, pairs = 1.0, tuple((t, t, 1.0, False) for t in sorted(tokens))
                else:
                    score, pairs = _align(tokens, query_weights, name, similarities, weights.coverage_share)
                current = best.get(name.entry)
                if current is None or score > current.score:
                    best[name.entry] = _Scored(score, name, pairs)
        script = original_script_key(subject.name)
        for entry_index in self._script.get(script, ()):
            best[entry_index] = _Scored(1.0, _name(entry_index, (), AliasQuality.STRONG, subject.name), ())
        for identifier in subject.identifiers:
            for entry_index in self._identifiers.get(identifier.key, ()):
                if entry_index not in best:
                    best[entry_index] = self._score_entry(subject, entry_index)
        return best

    def _score_entry(self, subject: ScreeningSubject, entry_index: int) -> _Scored:
        """The subject's best name score against every name of one entry (for identifier hits)."""
        entry = self.entries[entry_index]
        best = _Scored(0.0, _name(entry_index, (), AliasQuality.STRONG, entry.name), ())
        weights = self.config.weights
        for tokens in forms(subject.name):
            for text, quality in entry.names():
                for listed in forms(text):
                    score, pairs = align(tokens, listed, weights.phonetic_agreement, weights.coverage_share)
                    if score > best.score:
                        best = _Scored(score, _name(entry_index, listed, quality, text), pairs)
        return best

    def screen(self, subject: ScreeningSubject, limit: int | None = None) -> list[Candidate]:
        """Candidates for ``subject`` scoring at least ``NAME_SCORE_FLOOR``, best first, at most
        ``limit`` (default ``candidates_max``), each with its evidence."""
        limit = self.config.candidates_max if limit is None else limit
        invariant(limit >= 1, "screen() needs a positive limit")
        w = self.config.weights
        bonus = (max(w.birth_date_exact, w.birth_date_year) if subject.birth_date else 0.0) + (
            max(w.country_match, 0.0) if subject.country else 0.0
        )
        scored = [
            (entry_index, s)
            for entry_index, s in self._best_names(subject).items()
            if s.score + bonus >= NAME_SCORE_FLOOR or subject.identifiers
        ]
        candidates = [self._candidate(subject, entry_index, s) for entry_index, s in scored]
        candidates.sort(key=lambda c: (-c.score, -c.name_score, c.entry.list_id, c.entry.entry_id))
        return [c for c in candidates if c.score >= NAME_SCORE_FLOOR][:limit]

    def _candidate(self, subject: ScreeningSubject, entry_index: int, scored: _Scored) -> Candidate:
        entry = self.entries[entry_index]
        evidence = [_name_evidence(subject.name, scored)]
        evidence += [
            Evidence("phonetic_agreement", f"{q} ~ {n} ({phonetic_key(q)})", 0.0)
            for q, n, _, phonetic in scored.pairs
            if phonetic
        ]
        evidence += _attribute_evidence(subject, entry, scored.name.quality, self.config)
        score = min(max(scored.score + sum(e.effect for e in evidence[1:]), 0.0), 1.0)
        if any(e.code == "identifier_match" for e in evidence):
            score = max(
                score, self.config.review_threshold
            )  # the same document number is always worth a look
        return Candidate(
            entry, score, scored.score, scored.name.text, tuple(evidence), self.config.decide(score)
        )

    def decide(self, candidates: Sequence[Candidate]) -> Decision:
        return candidates[0].decision if candidates else Decision.CLEAR


def _name_evidence(query: str, scored: _Scored) -> Evidence:
    if not scored.pairs:
        how = "same name" if scored.score >= 1.0 else "no token in common"
        return Evidence("name_similarity", f"{query!r} vs {scored.name.text!r}: {how}", scored.score)
    pairs = ", ".join(f"{q}={n}" if s >= 1.0 else f"{q}~{n} {s:.2f}" for q, n, s, _ in scored.pairs)
    return Evidence("name_similarity", f"{query!r} vs {scored.name.text!r}: {pairs}", scored.score)


_BIRTH_RANK = {"exact": 0, "year": 1, "near": 2, "mismatch": 3}


def _attribute_evidence(
    subject: ScreeningSubject, entry: ListEntry, quality: AliasQuality, config: ScreeningConfig
) -> list[Evidence]:
    w = config.weights
    found: list[Evidence] = []
    if subject.birth_date is not None and entry.birth_dates:
        outcome = min((subject.birth_date.compare(d) for d in entry.birth_dates), key=_BIRTH_RANK.__getitem__)
        effect = {
            "exact": w.birth_date_exact,
            "year": w.birth_date_year,
            "near": w.birth_date_near,
            "mismatch": w.birth_date_mismatch,
        }[outcome]
        listed = ", ".join(str(d) for d in entry.birth_dates[:4])
        found.append(
            Evidence(f"birth_date_{outcome}", f"subject {subject.birth_date}; listed {listed}", effect)
        )
    if subject.country is not None and entry.countries:
        agree = subject.country in entry.countries
        found.append(
            Evidence(
                "country_match" if agree else "country_mismatch",
                f"subject {subject.country}; listed {', '.join(entry.countries[:6])}",
                w.country_match if agree else w.country_mismatch,
            )
        )
    listed_keys = {i.key: i for i in entry.identifiers}
    for identifier in subject.identifiers:
        match = listed_keys.get(identifier.key)
        if match is not None:
            found.append(Evidence("identifier_match", f"{match.kind} {match.number}", w.identifier_match))
            break
    if subject.kind is not None and subject.kind != entry.kind:
        both_things = {subject.kind, entry.kind} <= {EntryKind.ENTITY, EntryKind.VESSEL, EntryKind.AIRCRAFT}
        if not both_things:
            found.append(
                Evidence("kind_mismatch", f"subject {subject.kind}; listed {entry.kind}", w.kind_mismatch)
            )
    if quality == AliasQuality.WEAK:
        found.append(Evidence("weak_alias", "matched a low-quality alias", w.weak_alias))
    return found


def sorted_form(name: str) -> str:
    """The order-free key of a name's first form (for tests and reports)."""
    found = forms(name)
    return sorted_key(found[0]) if found else ""
