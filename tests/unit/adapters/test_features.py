"""Parsing Kafka's FeatureCommand output (the lines below are what 3.9.2 and 4.4.0 printed here)."""

from __future__ import annotations

import pytest

from kafkaops.adapters.features import FeatureError, parse_describe, parse_metadata_mapping

DESCRIBE_39 = """\
Feature: kraft.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 1\tFinalizedVersionLevel: 0\tEpoch: 15
Feature: metadata.version\tSupportedMinVersion: 3.0-IV1\tSupportedMaxVersion: 3.9-IV0\tFinalizedVersionLevel: 3.9-IV0\tEpoch: 15
"""
DESCRIBE_44 = (
    "Feature: group.version                             SupportedMinVersion: 0                SupportedMaxVersion: 1                "
    "FinalizedVersionLevel: 0                Epoch: 36\n"
    "Feature: metadata.version                          SupportedMinVersion: 3.3-IV3          SupportedMaxVersion: 4.4-IV2          "
    "FinalizedVersionLevel: 3.9-IV0          Epoch: 36\n"
)


def test_describe_is_read_in_both_layouts() -> None:
    md = parse_describe(DESCRIBE_39)["metadata.version"]
    assert (md.supported_min, md.supported_max, md.finalized, md.epoch) == ("3.0-IV1", "3.9-IV0", "3.9-IV0", 15)
    features = parse_describe(DESCRIBE_44)
    assert set(features) == {"group.version", "metadata.version"}
    assert features["metadata.version"].supported_max == "4.4-IV2" and features["metadata.version"].finalized == "3.9-IV0"


def test_version_mapping_gives_the_level_and_the_name() -> None:
    text = "metadata.version=33 (4.4-IV2)\nkraft.version=1\ntransaction.version=2\n"
    assert parse_metadata_mapping(text) == (33, "4.4-IV2")
    with pytest.raises(FeatureError, match="unexpected kafka-features version-mapping output"):
        parse_metadata_mapping("kraft.version=1\n")
