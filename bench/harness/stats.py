"""Small statistics for the harness, on the standard library alone: medians,
ranges, ratios between systems, and the Mann-Whitney U test that the compare
command uses (exact by enumeration for small samples, as benchstat's, and the
normal approximation with a tie correction beyond)."""
import itertools
import math
import statistics


def median(xs):
    return statistics.median(xs) if xs else None


def advantage(gort, peer, better):
    """gort's advantage over a peer: > 1 means gort is ahead."""
    if gort is None or peer is None or gort == 0 or peer == 0:
        return None
    return peer / gort if better == "lower" else gort / peer


def _u(a, b):
    u = 0.0
    for x in a:
        for y in b:
            u += 1.0 if x > y else 0.5 if x == y else 0.0
    return u


def mann_whitney(a, b):
    """Two-sided p-value that samples a and b come from one distribution."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    u = _u(a, b)
    mean = n1 * n2 / 2.0
    pooled = list(a) + list(b)
    if math.comb(n1 + n2, n1) <= 200000:
        # Exact: every way of splitting the pooled values into groups of n1
        # and n2 is equally likely under the null hypothesis.
        dev = abs(u - mean) - 1e-9
        hits = total = 0
        for idx in itertools.combinations(range(n1 + n2), n1):
            chosen = set(idx)
            ua = [pooled[i] for i in idx]
            ub = [pooled[i] for i in range(n1 + n2) if i not in chosen]
            total += 1
            if abs(_u(ua, ub) - mean) >= dev:
                hits += 1
        return hits / total
    ranks = {}
    ordered = sorted(pooled)
    i = 0
    ties = 0.0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j] == ordered[i]:
            j += 1
        ranks[ordered[i]] = (i + j + 1) / 2.0
        t = j - i
        ties += t ** 3 - t
        i = j
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u - mean) - 0.5) / sigma
    return math.erfc(max(z, 0) / math.sqrt(2))
