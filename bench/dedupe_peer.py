"""splink on pool's evaluation corpus: the peer the dedupe benchmark compares against.

Reads the CSV `pool-bench corpus-csv N dev FILE` writes (the records pool's matcher
scores, as the same normalised keys, with each record's true identity), fits a
Fellegi-Sunter model with splink (DuckDB backend) on the same six fields, clusters at
the same threshold, and prints pairwise precision, recall and F1 against the truth as
one JSON line. Timing and memory are measured around this process by bench/run.

    python dedupe_peer.py FILE [THRESHOLD]
"""
import itertools
import json
import sys
from collections import defaultdict

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def pairs_of(groups):
    out = set()
    for members in groups:
        for a, b in itertools.combinations(sorted(members), 2):
            out.add((a, b))
    return out


def main():
    path = sys.argv[1]
    threshold = float(sys.argv[2]) if len(sys.argv) > 2 else 0.99
    con = duckdb.connect()
    # Every column as text: phones and ids are keys, not numbers.
    con.execute(
        "CREATE TABLE records AS SELECT * FROM read_csv(?, all_varchar = true, header = true)",
        [path],
    )
    db = DuckDBAPI(connection=con)
    df = db.register("records")
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="id",
        # Comparison levels like pool's: exact / near / far / different, missing neutral,
        # with term-frequency adjustment on the exact level of name, company and city.
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.92, 0.8]).configure(
                term_frequency_adjustments=True
            ),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.EmailComparison("email"),
            cl.JaroWinklerAtThresholds("company", [0.92, 0.8]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address", [0.92, 0.8]),
        ],
        # A union of blocking rules, so a typo in one field still brings a pair together.
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on("email"),
            block_on("name", "city"),
            block_on("name_sorted"),
            block_on("company", "substr(name, 1, 1)"),
            block_on("address"),
            block_on("substr(phone, 1, 7)", "substr(name, 1, 1)"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone", "name")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    # EM sessions as splink's tutorials do: each block estimates the other fields.
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("phone", "name")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name", "address")
    )
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold
    )
    rel = clusters.as_duckdbpyrelation()
    found = defaultdict(list)
    truth = defaultdict(list)
    for rec_id, cluster_id, entity in rel.select("id, cluster_id, entity").fetchall():
        found[cluster_id].append(rec_id)
        truth[entity].append(rec_id)
    predicted = pairs_of(found.values())
    true = pairs_of(truth.values())
    hit = len(predicted & true)
    p = hit / len(predicted) if predicted else 1.0
    r = hit / len(true) if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(json.dumps({"tool": "splink", "records": sum(len(v) for v in truth.values()),
                      "precision": p, "recall": r, "f1": f1}))


if __name__ == "__main__":
    main()
