"""ElastiCache global datastores, which moto 5.2.5 does not serve at all.

moto keeps a replication group's GlobalReplicationGroupId when one is created into a global
datastore (as a SECONDARY), but has no global datastore to create, describe or fail over. This
models the four calls Rebound and its tests make, as the ElastiCache API Reference documents
them, over moto's own replication groups:

- CreateGlobalReplicationGroup: the named group in this region becomes the PRIMARY member of
  "<prefix>-<suffix>", the prefix AWS gives the region ("Creating a global datastore": the name
  is the suffix with a region prefix).
- CreateReplicationGroup with GlobalReplicationGroupId: the new group joins as a SECONDARY.
- DescribeGlobalReplicationGroups: members only with ShowMemberInfo.
- FailoverGlobalReplicationGroup: "The secondary region will become primary, and all other
  clusters will become secondary." The datastore is `modifying` for the failover's time
  (FailoverGlobalReplicationGroup, scaled as every documented figure) and its roles change at
  the end; a call meanwhile, or on a datastore that is not `available`, is
  InvalidGlobalReplicationGroupState ("The Global datastore is not available or in
  primary-only state").

The launcher calls install() with its clock.
"""

from moto.core.responses import ActionResult
from moto.elasticache.exceptions import ElastiCacheException, ReplicationGroupNotFound
from moto.elasticache.models import ElastiCacheBackend, elasticache_backends
from moto.elasticache.responses import ElastiCacheResponse

# ElastiCache User Guide, "Creating a global datastore": the prefix each region gives the names
# of the global datastores created there.
PREFIXES = {
    "us-east-1": "ldgnf",
    "us-east-2": "fpkhr",
    "us-west-1": "virxk",
    "us-west-2": "sgaui",
    "eu-west-1": "iudkw",
    "eu-central-1": "iemxf",
}
# (account, global datastore id) -> its description, status and members.
_GLOBALS = {}


class GlobalReplicationGroupNotFound(ElastiCacheException):
    code = "GlobalReplicationGroupNotFoundFault"

    def __init__(self, global_id):
        super().__init__(f"Global datastore {global_id} not found.")


class GlobalReplicationGroupAlreadyExists(ElastiCacheException):
    code = "GlobalReplicationGroupAlreadyExistsFault"

    def __init__(self, global_id):
        super().__init__(f"Global datastore {global_id} already exists.")


class InvalidGlobalReplicationGroupState(ElastiCacheException):
    code = "InvalidGlobalReplicationGroupState"


class InvalidParameterValue(ElastiCacheException):
    code = "InvalidParameterValue"


def _group(account, region, group_id):
    group = elasticache_backends[account][region].replication_groups.get(group_id)
    if group is None:
        raise ReplicationGroupNotFound(group_id)
    return group


def _found(account, global_id):
    found = _GLOBALS.get((account, global_id))
    if found is None:
        raise GlobalReplicationGroupNotFound(global_id)
    return found


def _view(account, global_id, members=True):
    found = _GLOBALS[(account, global_id)]
    view = {key: value for key, value in found.items() if key != "Members" or members}
    return view


def _join(account, region, global_id, group, role):
    group.global_replication_group_id = global_id
    group.global_replication_group_member_role = role
    _GLOBALS[(account, global_id)]["Members"].append(
        {
            "ReplicationGroupId": group.replication_group_id,
            "ReplicationGroupRegion": region,
            "Role": role,
            "AutomaticFailover": group.automatic_failover,
            "Status": "associated",
        }
    )


def install(later, duration):
    _create_replication_group = ElastiCacheBackend.create_replication_group

    def create_replication_group(self, *args, **kwargs):
        global_id = kwargs.get("global_replication_group_id")
        if global_id:
            found = _found(self.account_id, global_id)
            if any(m["ReplicationGroupRegion"] == self.region_name for m in found["Members"]):
                raise InvalidParameterValue(f"Global datastore {global_id} already has a member in {self.region_name}.")
        group = _create_replication_group(self, *args, **kwargs)
        if global_id:
            _join(self.account_id, self.region_name, global_id, group, "SECONDARY")
        else:
            group.global_replication_group_member_role = ""
        return group

    def create_global_replication_group(self):
        account, region = self.current_account, self.region
        suffix = self._get_param("GlobalReplicationGroupIdSuffix")
        primary = _group(account, region, self._get_param("PrimaryReplicationGroupId"))
        if primary.global_replication_group_id:
            raise InvalidParameterValue(
                f"Replication group {primary.replication_group_id} is already a member of "
                f"{primary.global_replication_group_id}."
            )
        global_id = f"{PREFIXES.get(region, 'xxxxx')}-{suffix}"
        if (account, global_id) in _GLOBALS:
            raise GlobalReplicationGroupAlreadyExists(global_id)
        _GLOBALS[(account, global_id)] = {
            "GlobalReplicationGroupId": global_id,
            "GlobalReplicationGroupDescription": self._get_param("GlobalReplicationGroupDescription") or "",
            "Status": "available",
            "CacheNodeType": primary.cache_node_type,
            "Engine": primary.engine,
            "EngineVersion": primary.engine_version or "7.1",
            "ClusterEnabled": primary.cluster_enabled,
            "AuthTokenEnabled": primary.auth_token_enabled,
            "TransitEncryptionEnabled": primary.transit_encryption_enabled,
            "AtRestEncryptionEnabled": primary.at_rest_encryption_enabled,
            "ARN": f"arn:aws:elasticache::{account}:globalreplicationgroup:{global_id}",
            "Members": [],
        }
        _join(account, region, global_id, primary, "PRIMARY")
        return ActionResult({"GlobalReplicationGroup": _view(account, global_id)})

    def describe_global_replication_groups(self):
        account = self.current_account
        wanted = self._get_param("GlobalReplicationGroupId")
        members = self._get_bool_param("ShowMemberInfo") or False
        if wanted:
            _found(account, wanted)
            ids = [wanted]
        else:
            ids = sorted(g for (a, g) in _GLOBALS if a == account)
        return ActionResult({"GlobalReplicationGroups": [_view(account, g, members) for g in ids]})

    def failover_global_replication_group(self):
        account = self.current_account
        global_id = self._get_param("GlobalReplicationGroupId")
        region = self._get_param("PrimaryRegion")
        target = self._get_param("PrimaryReplicationGroupId")
        found = _found(account, global_id)
        if found["Status"] != "available":
            raise InvalidGlobalReplicationGroupState(
                f"Global datastore {global_id} is {found['Status']}: the Global datastore is not available or in "
                "primary-only state."
            )
        member = next(
            (
                m
                for m in found["Members"]
                if m["ReplicationGroupId"] == target and m["ReplicationGroupRegion"] == region
            ),
            None,
        )
        if member is None:
            raise InvalidParameterValue(f"Replication group {target} in {region} is not a member of {global_id}.")
        if member["Role"] == "PRIMARY":
            raise InvalidParameterValue(f"Replication group {target} is already the primary of {global_id}.")
        found["Status"] = "modifying"

        def failed_over():
            for other in found["Members"]:
                other["Role"] = "PRIMARY" if other is member else "SECONDARY"
                group = elasticache_backends[account][other["ReplicationGroupRegion"]].replication_groups.get(
                    other["ReplicationGroupId"]
                )
                if group is not None:
                    group.global_replication_group_member_role = other["Role"]
            found["Status"] = "available"

        later(duration("FailoverGlobalReplicationGroup"), failed_over)
        return ActionResult({"GlobalReplicationGroup": _view(account, global_id)})

    ElastiCacheBackend.create_replication_group = create_replication_group
    ElastiCacheResponse.create_global_replication_group = create_global_replication_group
    ElastiCacheResponse.describe_global_replication_groups = describe_global_replication_groups
    ElastiCacheResponse.failover_global_replication_group = failover_global_replication_group
