"""Defaults the procedures use and the CLI shows in its options: defined once, here.

A module of constants only, so that building the CLI (and `kafkaops --help`) imports no procedure.
"""

DEMO_TABLE = "livedb"  # the procedure's source table; the default pipeline is DEMO_TABLE -> KAFKA_TOPIC

# 2000 rows per batch: one offset UPDATE and one keyset query per 2000 rows (see procedures/produce/options.py).
DEFAULT_BATCH_SIZE = 2000
DEFAULT_INTERVAL = 1.0  # seconds between polls with produce --follow
DEFAULT_DELIVERY_TIMEOUT = 30.0  # seconds Kafka has to acknowledge an event before the run fails
DEFAULT_SETTLE_TIMEOUT = 10.0  # seconds the settle gate waits for in-flight inserts

TOPIC_WAIT_TIMEOUT = 30.0  # how long topic create and delete wait for the cluster to reflect the change

DEFAULT_MIRROR = "https://archive.apache.org/dist/kafka"  # where `install --source apache` downloads Kafka
