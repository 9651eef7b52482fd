"""MemoryDB multi-Region clusters, which moto 5.2.5 does not serve at all.

moto serves MemoryDB's regional clusters, without the multi-Region cluster they may belong to.
This models the calls Rebound and its tests make, as the MemoryDB API Reference documents them,
over moto's own clusters:

- CreateMultiRegionCluster: named "<prefix>-<suffix>", the prefix MemoryDB gives the region it
  is created in (MultiRegionClusterNameSuffix: "Each Amazon Region has its own prefix"; the
  same prefixes as ElastiCache's global datastores, "virxk" for us-west-1).
- CreateCluster with MultiRegionClusterName: the new regional cluster joins it, one per region;
  DescribeClusters then names the multi-Region cluster (Cluster.MultiRegionClusterName).
- DescribeMultiRegionClusters: the regional clusters (name, region, status, ARN) only with
  ShowClusterDetails; MultiRegionClusterNotFoundFault for a name it does not know.

A multi-Region cluster is active-active: every regional cluster takes writes, and there is no
failover to model. A regional cluster's status is the one its own region's backend holds.

The launcher calls install().
"""

import json

from moto.core.responses import ActionResult
from moto.memorydb.exceptions import MemoryDBClientError
from moto.memorydb.models import MemoryDBBackend, MemoryDBCluster, memorydb_backends
from moto.memorydb.responses import MemoryDBResponse

from global_datastores import PREFIXES

# (account, name) -> the multi-Region cluster's description and its regional clusters.
_MULTI = {}


class MultiRegionClusterNotFoundFault(MemoryDBClientError):
    def __init__(self, name):
        super().__init__("MultiRegionClusterNotFoundFault", f"Multi-Region cluster {name} not found.")


class MultiRegionClusterAlreadyExistsFault(MemoryDBClientError):
    def __init__(self, name):
        super().__init__("MultiRegionClusterAlreadyExistsFault", f"Multi-Region cluster {name} already exists.")


class InvalidParameterValueException(MemoryDBClientError):
    def __init__(self, message):
        super().__init__("InvalidParameterValueException", message)


def _found(account, name):
    found = _MULTI.get((account, name))
    if found is None:
        raise MultiRegionClusterNotFoundFault(name)
    return found


def _view(account, name, details):
    found = _MULTI[(account, name)]
    view = {key: value for key, value in found.items() if key != "Clusters"}
    if details:
        clusters = []
        for member in found["Clusters"]:
            cluster = memorydb_backends[account][member["Region"]].clusters.get(member["ClusterName"])
            clusters.append({**member, "Status": cluster.status if cluster is not None else "deleting"})
        view["Clusters"] = clusters
    return view


def install():
    _create_cluster = MemoryDBBackend.create_cluster
    _to_dict = MemoryDBCluster.to_dict

    def create_cluster(self, *args, **kwargs):
        name = getattr(self, "_joining", None)
        if name:
            found = _found(self.account_id, name)
            if any(m["Region"] == self.region_name for m in found["Clusters"]):
                raise InvalidParameterValueException(f"Multi-Region cluster {name} already has a cluster in {self.region_name}.")
        cluster = _create_cluster(self, *args, **kwargs)
        cluster.multi_region_cluster_name = name
        if name:
            _MULTI[(self.account_id, name)]["Clusters"].append(
                {"ClusterName": cluster.cluster_name, "Region": self.region_name, "ARN": cluster.arn}
            )
        return cluster

    def to_dict(self):
        out = _to_dict(self)
        if getattr(self, "multi_region_cluster_name", None):
            out["MultiRegionClusterName"] = self.multi_region_cluster_name
        return out

    _respond_create_cluster = MemoryDBResponse.create_cluster

    def respond_create_cluster(self):
        # The backend's signature has no such parameter: handed over on the backend for the call.
        backend = self.memorydb_backend
        backend._joining = json.loads(self.body).get("MultiRegionClusterName")
        try:
            return _respond_create_cluster(self)
        finally:
            backend._joining = None

    def create_multi_region_cluster(self):
        account, region = self.current_account, self.region
        params = json.loads(self.body)
        name = f"{PREFIXES.get(region, 'xxxxx')}-{params['MultiRegionClusterNameSuffix']}"
        if (account, name) in _MULTI:
            raise MultiRegionClusterAlreadyExistsFault(name)
        _MULTI[(account, name)] = {
            "MultiRegionClusterName": name,
            "Description": params.get("Description") or "",
            "Status": "available",
            "NodeType": params["NodeType"],
            "Engine": params.get("Engine") or "valkey",
            "EngineVersion": params.get("EngineVersion") or "7.3",
            "NumberOfShards": params.get("NumShards") or 1,
            "MultiRegionParameterGroupName": params.get("MultiRegionParameterGroupName") or "default.memorydb-valkey7.multiregion",
            "TLSEnabled": params.get("TLSEnabled", True),
            "ARN": f"arn:aws:memorydb::{account}:multiregioncluster/{name}",
            "Clusters": [],
        }
        return ActionResult({"MultiRegionCluster": _view(account, name, False)})

    def describe_multi_region_clusters(self):
        account = self.current_account
        params = json.loads(self.body)
        wanted = params.get("MultiRegionClusterName")
        details = bool(params.get("ShowClusterDetails"))
        if wanted:
            _found(account, wanted)
            names = [wanted]
        else:
            names = sorted(n for (a, n) in _MULTI if a == account)
        return ActionResult({"MultiRegionClusters": [_view(account, n, details) for n in names]})

    MemoryDBBackend.create_cluster = create_cluster
    MemoryDBCluster.to_dict = to_dict
    MemoryDBResponse.create_cluster = respond_create_cluster
    MemoryDBResponse.create_multi_region_cluster = create_multi_region_cluster
    MemoryDBResponse.describe_multi_region_clusters = describe_multi_region_clusters
