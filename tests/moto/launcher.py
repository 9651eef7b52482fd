"""moto_server, with patches where moto contradicts AWS's documented behaviour.

Each patch restores exactly one documented behaviour and has its own test in
tests/tests/moto_patches.rs. Everything else is moto as released.
"""

import sys

from moto.rds.models import RDSBackend

_promote_read_replica = RDSBackend.promote_read_replica


def promote_read_replica(self, db_kwargs):
    # AWS RDS User Guide, "Promoting a read replica to be a standalone DB instance": once
    # promoted, the instance is no longer a replica, so DescribeDBInstances omits
    # ReadReplicaSourceDBInstanceIdentifier and the source no longer lists it among
    # ReadReplicaDBInstanceIdentifiers. moto clears neither for a cross-region replica.
    database = self.databases.get(db_kwargs["db_instance_identifier"])
    source_id = getattr(database, "source_db_instance_identifier", None)
    was_replica = bool(database is not None and database.is_replica)
    result = _promote_read_replica(self, db_kwargs)
    if was_replica and source_id:
        try:
            primary = self.find_db_from_id(source_id)
        except Exception:  # the source's region or instance is gone: nothing to unlink
            primary = None
        if primary is not None:
            for ref in (database.db_instance_arn, database.db_instance_identifier):
                if ref in primary.replicas:
                    primary.replicas.remove(ref)
        database.source_db_instance_identifier = None
    return result


RDSBackend.promote_read_replica = promote_read_replica

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
