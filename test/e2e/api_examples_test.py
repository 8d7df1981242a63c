"""docs/api.md's examples are what the service answers: the run scripts/api-examples makes
(api_examples.py says how, and what is compared by shape), compared with each example block."""

from harness import Suite
import api_examples

suite = Suite()  # the stacks are api_examples.run()'s own
_results = []


def results_of_one_run():
    if not _results:
        _results.append(api_examples.run())
    return _results[0]


@suite.test
def every_example_in_api_md_is_what_the_service_answers_for_the_same_input():
    results = results_of_one_run()
    with open(api_examples.API_MD) as f:
        text = f.read()
    diffs = api_examples.differences(results, text)
    assert not diffs, "docs/api.md is stale (run scripts/api-examples, read the diff):\n" + "\n".join(diffs)


@suite.test
def the_check_sees_a_changed_value_a_missing_record_and_a_changed_time_order():
    # the comparison itself can fail: api.md with one figure, one record, one time order changed
    results = results_of_one_run()
    with open(api_examples.API_MD) as f:
        text = f.read()
    blocks = api_examples.blocks(text)
    cs = blocks["cluster.status"]
    bad = text.replace(cs, cs.replace('"vcpu_overcommit_ratio": 3', '"vcpu_overcommit_ratio": 4', 1))
    assert any("cluster.status" in d and "vcpu_overcommit_ratio" in d
               for d in api_examples.differences(results, bad))
    dv = blocks["derive.virt.cpu"]
    req, status, answer = api_examples.documented(dv)
    parsed = api_examples.parse(answer)
    parsed[1][1].pop()  # the second record
    bad = text.replace(dv, api_examples.render("derive.virt.cpu", req, status, api_examples.dump(parsed)))
    assert any("derive.virt.cpu" in d and "1 elements, answered 2" in d
               for d in api_examples.differences(results, bad))
    vh = blocks["virt.history"]
    req, status, answer = api_examples.documented(vh)
    parsed = api_examples.parse(answer)
    stay = dict(parsed[1][1][0])
    swapped = answer.replace(stay["from"], "FROM").replace(stay["to"], stay["from"]).replace("FROM", stay["to"])
    bad = text.replace(vh, api_examples.render("virt.history", req, status, swapped))
    assert any("virt.history" in d and ".from" in d for d in api_examples.differences(results, bad))


suite.run()
