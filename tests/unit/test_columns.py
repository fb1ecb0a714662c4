"""Column-wise reading of query tables: same values as row-wise reading, one object per distinct value."""

from __future__ import annotations

import pyarrow as pa

from auditor.compliance import columns, facts


def test_converted_matches_each_row_and_shares_results() -> None:
    table = pa.table({"t": pa.chunked_array([["a", None, "b"], ["a", "b", None]])})
    seen: list[str | None] = []

    def convert(value: str | None) -> str:
        seen.append(value)
        return f"<{value}>"

    out = columns.converted(table, "t", convert)
    assert out == ["<a>", "<None>", "<b>", "<a>", "<b>", "<None>"]
    assert len(seen) == 3 and set(seen) == {"a", "b", None}  # once per distinct value, across chunks
    assert out[0] is out[3]


def test_columns_of_any_arrow_shape() -> None:
    table = pa.table(
        {
            "empty": pa.array([None, None]),  # an all-null column has Arrow type null
            "coded": pa.array(["x", None]).dictionary_encode(),
            "n": pa.array([3, None]),
        }
    )
    assert columns.texts(table, "empty") == ["", ""]
    assert columns.texts(table, "coded") == ["x", ""]
    assert columns.shared(table, "coded") == ["x", None]
    assert columns.counts(table, "n") == [3, 0]
    assert columns.texts(table.slice(0, 0), "coded") == []


def test_machine_ids_are_the_machines_own_strings() -> None:
    known = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-1"
    machine = facts.build_machines(
        pa.table(
            {
                name: [None]
                for name in (
                    "id",
                    "name",
                    "platform",
                    "subscriptionId",
                    "resourceGroup",
                    "location",
                    "osRaw",
                    "osSku",
                    "osVersion",
                    "imageOffer",
                    "imageSku",
                    "powerState",
                    "tags",
                    "assessmentMode",
                    "patchMode",
                    "hotpatch",
                    "bypassSafetyChecks",
                    "rebootSetting",
                    "assessmentStatus",
                    "assessmentLastModified",
                    "assessmentError",
                    "rebootPending",
                )
            }
            | {"machineId": [known]}
        ),
        environment_tag="Environment",
        environment_aliases={},
    )[0]
    table = pa.table({"machineId": [known, "/unknown", known]})
    ids = facts.machine_ids(table, "machineId", {machine.machine_id: machine})
    assert ids == [known, "/unknown", known]
    assert ids[0] is machine.machine_id and ids[2] is machine.machine_id


def test_reals_and_text_rows() -> None:
    table = pa.table({"minutes": pa.array([1.5, None, 2.0]), "n": pa.array([2, 3, None])})
    assert columns.reals(table, "minutes") == [1.5, None, 2.0]
    assert [type(v) for v in columns.reals(table, "n")] == [float, float, type(None)]
    names = pa.table({"subscriptionId": ["s1", None, "s2"], "name": ["One", "x", None]})
    assert columns.text_rows(names) == [
        {"subscriptionId": "s1", "name": "One"},
        {"subscriptionId": "", "name": "x"},
        {"subscriptionId": "s2", "name": ""},
    ]
    assert facts.subscription_names(names) == {"s1": "One", "s2": ""}
