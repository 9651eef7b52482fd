"""moto_server, with patches where moto contradicts AWS's documented behaviour.

Each patch restores exactly one documented behaviour and has its own test in
tests/tests/moto_patches.rs. Everything else is moto as released.
"""

import heapq
import inspect
import io
import itertools
import json
import os
import sys
import threading
import time
import traceback
from datetime import datetime

import moto.server
from moto.core.config import default_user_config
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer
from botocore.session import get_session
from moto.core.responses import ActionResult, EmptyResult
from moto.rds.exceptions import DBClusterSnapshotAlreadyExistsError, RDSClientError
from moto.rds.models import DBCluster, RDSBackend
from moto.rds.utils import ClusterEngine
from moto.rds.responses import RDSResponse
from moto.autoscaling.models import FakeAutoScalingGroup
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.models import Dimension as CloudWatchDimension
from moto.cloudwatch.models import MetricDatum as CloudWatchDatum
from moto.dynamodb.models import dynamodb_backends
from moto.ecs.models import EC2ContainerServiceBackend
from moto.autoscaling.models import autoscaling_backends
from moto.eks.exceptions import ResourceInUseException as EksResourceInUse
from moto.eks.models import EKSBackend
from moto.dynamodb.models.table import Table as DynamoTable
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.route53.models import HealthCheck as Route53HealthCheck
from moto.route53.exceptions import Route53ClientError
from moto.route53.responses import Route53 as Route53Response
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random
from moto.stepfunctions.responses import StepFunctionResponse
from moto.servicequotas.models import ServiceQuotasBackend

# moto runs Lambda functions in Docker, which these machines do not have. Its documented
# alternative ("lambda": {"use_docker": False}, the simple Lambda backend) answers each Invoke
# with the next result queued through /moto-api/static/lambda-simple/response, else with the
# payload; event source mappings and the rest of the API are the same. Configuration, not a patch.
default_user_config["lambda"]["use_docker"] = False

# AWS's time. moto finishes every change the moment it is asked; AWS takes minutes, showing
# documented intermediate states meanwhile. Each modelled change takes AWS's documented figure
# (the ones shared/core/src/forecast/figures.rs cites) times REBOUND_AWS_TIME_SCALE (default
# 1/100: a 5-minute promotion takes 3 s here); a test may set any one with
# POST /rebound-api/durations {"PromoteReadReplica": 0.5}. Changes end on the first request at or
# after their due time, in the order they were asked, so a test waits on a state, never on a
# guess of the clock.
DOCUMENTED_SECONDS = {
    # RDS User Guide, "Promoting a read replica to be a standalone DB instance": "several
    # minutes or longer"; the instance is `modifying`, then `rebooting`, then `available`.
    "PromoteReadReplica": 300,
    # Aurora User Guide, "Using failover in an Amazon Aurora global database" and the AWS DR
    # workshop: a global failover or switchover completes in about a minute; meanwhile
    # DescribeGlobalClusters shows FailoverState (RDS API Reference, FailoverState) and the old
    # writer stays the writer until it ends.
    "FailoverGlobalCluster": 60,
    "SwitchoverGlobalCluster": 60,
    # AWS Disaster Recovery workshop, "ElastiCache - Global Datastore": promoting the
    # secondary takes about a minute (RTO 1 minute); meanwhile the datastore is `modifying` and
    # the old primary stays primary (global_datastores.py).
    "FailoverGlobalReplicationGroup": 60,
    # Route 53 Developer Guide: "Changes generally propagate to all Route 53 name servers within
    # 60 seconds"; GetChange says PENDING until then, INSYNC after (Route 53 API Reference,
    # ChangeInfo).
    "ChangeResourceRecordSets": 60,
    # ECS Developer Guide, service scheduler: new tasks are PENDING (image pull, start) before
    # RUNNING; forecast/figures.rs estimates 90 s for a scale-out to be running.
    "UpdateService": 90,
    # EC2 Auto Scaling User Guide, instance lifecycle: a new instance is Pending (launch, boot,
    # health check grace) before InService; forecast/figures.rs estimates 150 s.
    "UpdateAutoScalingGroup": 150,
    # RDS User Guide, "Restoring a DB instance to a specified time" and "Restoring from a DB
    # snapshot": the restore creates a new instance, `creating` until it is `available`; AWS
    # gives no figure (it grows with the data and the logs to replay): forecast/figures.rs
    # estimates 30 minutes.
    "RestoreDBInstanceToPointInTime": 1800,
    "RestoreDBInstanceFromDBSnapshot": 1800,
    # EKS API Reference, UpdateNodegroupConfig: the update is InProgress, tracked with
    # DescribeUpdate, until Successful; no AWS figure for a scaling update: forecast/figures.rs
    # estimates 30 s before the Auto Scaling group is set (its instances then take
    # UpdateAutoScalingGroup's time).
    "UpdateNodegroupConfig": 30,
    # Lambda API Reference, EventSourceMappingConfiguration, State: "Creating, Enabling,
    # Enabled, Disabling, Disabled, Updating, or Deleting"; UpdateEventSourceMapping's
    # ResourceInUseException: "you tried to update an event source mapping in the CREATING
    # state". No AWS figure: forecast/figures.rs estimates 60 s.
    "UpdateEventSourceMapping": 60,
}
# Changes AWS gives no figure for and the harness's own seeds make (they build their world at
# once): instant unless a test sets a duration.
SET_BY_TESTS = {
    # RDS User Guide, "Working with DB instance read replicas": a new replica is `creating`
    # (from a snapshot of its source) until it is `available`.
    "CreateDBInstanceReadReplica": 0.0,
}
TIME_SCALE = float(os.environ.get("REBOUND_AWS_TIME_SCALE", "0.01"))
_durations = {}
_due = []  # (monotonic due time, sequence, callable)
_sequence = itertools.count()
_time_lock = threading.RLock()


def duration(operation):
    if operation in SET_BY_TESTS:
        return _durations.get(operation, SET_BY_TESTS[operation])
    return _durations.get(operation, DOCUMENTED_SECONDS[operation] * TIME_SCALE)


def later(seconds, change):
    with _time_lock:
        heapq.heappush(_due, (time.monotonic() + seconds, next(_sequence), change))


def advance():
    """Ends every change that is due, oldest first; then re-evaluates the alarms that are due."""
    with _time_lock:
        now = time.monotonic()
        while _due and _due[0][0] <= now:
            _, _, change = heapq.heappop(_due)
            try:
                change()
            except Exception:
                traceback.print_exc()
        try:
            evaluate_alarms(now)
        except Exception:
            traceback.print_exc()


# CloudWatch User Guide, "Evaluating an alarm" and "Configuring how CloudWatch alarms treat
# missing data": every period CloudWatch evaluates an alarm from its metric's datapoints in the
# last EvaluationPeriods periods; with none there, TreatMissingData decides (missing:
# INSUFFICIENT_DATA, ignore: the state stays, breaching: ALARM, notBreaching: OK). A state set
# with SetAlarmState lasts until the next evaluation. moto never evaluates. Here an alarm whose
# metric has received a datapoint is evaluated every Period times REBOUND_AWS_TIME_SCALE, over a
# window scaled the same way (an alarm on a metric nothing was published to stays as set).
_CW_BACKENDS = set()
_EVALUATED = {}


def put_metric_data(self, *args, **kwargs):
    _CW_BACKENDS.add(self)
    return _put_metric_data(self, *args, **kwargs)


def _statistic(name, values):
    if name == "Maximum":
        return max(values)
    if name == "Minimum":
        return min(values)
    if name == "Sum":
        return sum(values)
    if name == "SampleCount":
        return float(len(values))
    return sum(values) / len(values)


def _breaches(alarm, value):
    threshold = float(alarm.threshold)
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }.get(alarm.comparison_operator, False)


def evaluate_alarms(now):
    wall = utcnow()
    for backend in list(_CW_BACKENDS):
        for alarm in list(backend.alarms.values()):
            if not alarm.metric_name or not alarm.period or alarm.threshold is None:
                continue
            wanted = {(d.name, d.value) for d in alarm.dimensions}
            data = [
                d
                for d in backend.metric_data
                if isinstance(d, CloudWatchDatum)
                and d.namespace == alarm.namespace
                and d.name == alarm.metric_name
                and {(x.name, x.value) for x in d.dimensions} == wanted
            ]
            if not data:
                continue
            period = float(alarm.period) * TIME_SCALE
            key = (backend.account_id, backend.region_name, alarm.name)
            last = _EVALUATED.setdefault(key, now)
            if now - last < period:
                continue
            _EVALUATED[key] = now
            window = period * int(alarm.evaluation_periods or 1)
            recent = [float(d.value) for d in data if (wall - d.timestamp).total_seconds() <= window]
            if recent:
                state = "ALARM" if _breaches(alarm, _statistic(alarm.statistic, recent)) else "OK"
                why = f"{len(recent)} datapoint(s) in the evaluation window"
            else:
                treat = alarm.treat_missing_data or "missing"
                state = {"ignore": alarm.state_value, "breaching": "ALARM", "notBreaching": "OK"}.get(
                    treat, "INSUFFICIENT_DATA"
                )
                why = f"no datapoint in the evaluation window (TreatMissingData: {treat})"
            if state != alarm.state_value:
                alarm.update_state(f"Threshold Crossed: {why}", json.dumps({"evaluated": why}), state)


def set_durations(environ, start_response):
    # {"PromoteReadReplica": 0.5} sets one change's duration; {"timeScale": 0.1} sets the scale
    # of every documented figure (and of the alarms' periods) instead.
    global TIME_SCALE
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    scale = body.pop("timeScale", None)
    unknown = sorted(set(body) - set(DOCUMENTED_SECONDS) - set(SET_BY_TESTS))
    if unknown or (scale is not None and not (isinstance(scale, (int, float)) and scale > 0)):
        start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
        return [json.dumps({"unknown": unknown, "timeScale": scale}).encode()]
    with _time_lock:
        if scale is not None:
            TIME_SCALE = float(scale)
        _durations.update({k: float(v) for k, v in body.items()})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({k: duration(k) for k in DOCUMENTED_SECONDS}).encode()]


_promote_read_replica = RDSBackend.promote_read_replica


def _unlink_promoted(self, database, source_id):
    # AWS RDS User Guide, "Promoting a read replica to be a standalone DB instance": once
    # promoted, the instance is no longer a replica, so DescribeDBInstances omits
    # ReadReplicaSourceDBInstanceIdentifier and the source no longer lists it among
    # ReadReplicaDBInstanceIdentifiers. moto clears neither for a cross-region replica.
    if source_id:
        try:
            primary = self.find_db_from_id(source_id)
        except Exception:  # the source's region or instance is gone: nothing to unlink
            primary = None
        if primary is not None:
            for ref in (database.db_instance_arn, database.db_instance_identifier):
                if ref in primary.replicas:
                    primary.replicas.remove(ref)
    database.source_db_instance_identifier = None


def promote_read_replica(self, db_kwargs):
    # AWS RDS API Reference, PromoteReadReplica, Errors: InvalidDBInstanceState, "The DB instance
    # isn't in a valid state"; RDS answers a standalone instance "DB Instance is not a read
    # replica." moto promotes it again and answers success, so a retry after a lost answer could
    # never meet the error it meets in AWS.
    database = self.databases.get(db_kwargs["db_instance_identifier"])
    if database is not None and not database.is_replica:
        raise RDSClientError("InvalidDBInstanceState", "DB Instance is not a read replica.")
    if database is None:
        return _promote_read_replica(self, db_kwargs)
    if database.status != "available":
        # A promotion already under way (the SDK's retry after a lost answer meets this).
        raise RDSClientError(
            "InvalidDBInstanceState", f"Database instance is not in available state (it is {database.status})."
        )
    # The answer comes at once, describing the instance `modifying`; it stays a replica of its
    # source (ReadReplicaSourceDBInstanceIdentifier set) until the promotion ends, rebooting in
    # its last part.
    source_id = getattr(database, "source_db_instance_identifier", None)
    database.status = "modifying"
    seconds = duration("PromoteReadReplica")

    def rebooting():
        database.status = "rebooting"

    def promoted():
        database.status = "available"
        _promote_read_replica(self, db_kwargs)
        _unlink_promoted(self, database, source_id)

    later(seconds * 0.8, rebooting)
    later(seconds, promoted)
    return database


RDSBackend.promote_read_replica = promote_read_replica

_create_read_replica = RDSBackend.create_db_instance_read_replica


def create_db_instance_read_replica(self, db_kwargs):
    # AWS RDS API Reference, CreateDBInstanceReadReplica, Errors: DBInstanceAlreadyExists, "The
    # user already has a DB instance with the given identifier." moto 5.2.5 replaces the
    # instance, so a retry after a lost answer never meets the error it meets in AWS.
    if db_kwargs["db_instance_identifier"] in self.databases:
        raise RDSClientError("DBInstanceAlreadyExists", "DB instance already exists")
    replica = _create_read_replica(self, db_kwargs)
    seconds = duration("CreateDBInstanceReadReplica")
    if seconds > 0:
        replica.status = "creating"

        def created():
            replica.status = "available"

        later(seconds, created)
    return replica


RDSBackend.create_db_instance_read_replica = create_db_instance_read_replica

_save_cluster_backup = DBCluster.save_automated_backup


def save_cluster_backup(self):
    # AWS RDS API Reference, CreateDBCluster, Errors: no DBClusterSnapshotAlreadyExistsFault (the
    # automated backups are RDS's own). moto takes one as it creates a cluster, named by the
    # minute, so a cluster created again under the name of one deleted within that minute (a
    # global database's secondary re-added) fails. The backup already taken stands.
    try:
        _save_cluster_backup(self)
    except DBClusterSnapshotAlreadyExistsError:
        pass


DBCluster.save_automated_backup = save_cluster_backup

_restore_to_point_in_time = RDSBackend.restore_db_instance_to_point_in_time


def restore_db_instance_to_point_in_time(self, source_db_identifier, target_db_identifier, overrides):
    # AWS RDS API Reference, RestoreDBInstanceToPointInTime: "Restores a DB instance to an
    # arbitrary point in time ... The target database is created" as a new, standalone instance.
    # moto copies every attribute of the source, so a restore of a read replica (allowed for
    # MySQL and MariaDB replicas with backups) comes back as a replica of the replica's source.
    restored = _restore_to_point_in_time(self, source_db_identifier, target_db_identifier, overrides)
    return _creating(_standalone(restored), "RestoreDBInstanceToPointInTime")


def _standalone(restored):
    source_id = getattr(restored, "source_db_instance_identifier", None)
    if restored.is_replica or source_id:
        restored.is_replica = False
        restored.source_db_instance_identifier = None
        restored.replicas = []
    return restored


def _creating(restored, operation):
    # A restored instance is `creating` for the restore's time, then `available` (AWS's time).
    restored.status = "creating"

    def created():
        restored.status = "available"

    later(duration(operation), created)
    return restored


RDSBackend.restore_db_instance_to_point_in_time = restore_db_instance_to_point_in_time

_restore_from_snapshot = RDSBackend.restore_db_instance_from_db_snapshot


def restore_db_instance_from_db_snapshot(self, *args, **kwargs):
    # AWS RDS API Reference, RestoreDBInstanceFromDBSnapshot: "Creates a new DB instance from a
    # DB snapshot", standalone; moto copies a replica's snapshot back as a replica of its source.
    restored = _restore_from_snapshot(self, *args, **kwargs)
    return _creating(_standalone(restored), "RestoreDBInstanceFromDBSnapshot")


RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot


class _MappingInUse(LambdaClientError):
    code = 400

    def __init__(self, uuid, state):
        super().__init__(
            "ResourceInUseException",
            f"Cannot update the event source mapping {uuid}: it is currently in {state} state.",
        )


_update_mapping = LambdaBackend.update_event_source_mapping


def update_event_source_mapping(self, uuid, spec):
    # Turning a mapping on or off takes time on AWS: it is `Enabling` or `Disabling` first, and
    # a second update meanwhile (the SDK's retry after a lost answer) is ResourceInUseException.
    # moto applies the change at once.
    esm = self.get_event_source_mapping(uuid)
    if esm is None:
        return _update_mapping(self, uuid, spec)
    if getattr(esm, "transition", None):
        raise _MappingInUse(uuid, esm.transition.upper())
    if "Enabled" not in spec or bool(spec["Enabled"]) == esm.enabled:
        return _update_mapping(self, uuid, spec)
    target = bool(spec["Enabled"])
    result = _update_mapping(self, uuid, {k: v for k, v in spec.items() if k != "Enabled"})
    esm.transition = "Enabling" if target else "Disabling"

    def settled():
        esm.enabled = target
        esm.transition = None

    later(duration("UpdateEventSourceMapping"), settled)
    return result


LambdaBackend.update_event_source_mapping = update_event_source_mapping

_mapping_configuration = EventSourceMapping.get_configuration


def mapping_configuration(self):
    config = _mapping_configuration(self)
    if getattr(self, "transition", None):
        config["State"] = self.transition
    return config


EventSourceMapping.get_configuration = mapping_configuration



def _change_global_writer(self, operation):
    # AWS RDS API Reference, SwitchoverGlobalCluster: "Aurora promotes the specified secondary
    # cluster to assume full read/write capabilities and demotes the current primary cluster to
    # a secondary (read-only) cluster"; FailoverGlobalCluster does the same, losing what was not
    # replicated when AllowDataLoss is given. Errors: GlobalClusterNotFoundFault,
    # DBClusterNotFoundFault, InvalidGlobalClusterStateFault. moto 5.2.5 implements neither: it
    # answers, and the writer stays where it was.
    params = self.params
    global_id = params.get("GlobalClusterIdentifier", "")
    target = params.get("TargetDbClusterIdentifier", "")
    if params.get("Switchover") and params.get("AllowDataLoss"):
        # FailoverGlobalCluster, AllowDataLoss: "Can't be specified together with the
        # Switchover parameter."
        raise RDSClientError(
            "InvalidParameterCombination", "AllowDataLoss can't be specified together with Switchover."
        )
    global_cluster = self.global_backend.global_clusters.get(global_id)
    if global_cluster is None:
        raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {global_id} not found.")
    member = next(
        (m for m in global_cluster.members if target in (m.db_cluster_arn, m.db_cluster_identifier)),
        None,
    )
    if member is None:
        raise RDSClientError(
            "DBClusterNotFoundFault", f"DBCluster {target} is not a member of global cluster {global_id}."
        )
    if getattr(global_cluster, "failover_state", None):
        # A failover or switchover already under way (the SDK's retry after a lost answer
        # meets this): FailoverState is "empty unless a switchover or failover operation is
        # scheduled or is in progress".
        raise RDSClientError(
            "InvalidGlobalClusterStateFault",
            f"Global cluster {global_id} is {global_cluster.status}: a switchover or failover is in progress.",
        )
    if member.is_writer:
        # TargetDbClusterIdentifier: "The identifier of the secondary Aurora DB cluster to
        # promote": the primary is not one.
        raise RDSClientError(
            "InvalidGlobalClusterStateFault", f"{target} is already the primary cluster of {global_id}."
        )
    switchover = bool(params.get("Switchover")) or operation == "SwitchoverGlobalCluster"
    status = "switching-over" if switchover else "failing-over"
    old_writer = next((m for m in global_cluster.members if m.is_writer), None)
    global_cluster.status = status
    global_cluster.failover_state = {
        "Status": status,
        "FromDbClusterArn": old_writer.db_cluster_arn if old_writer is not None else None,
        "ToDbClusterArn": member.db_cluster_arn,
        "IsDataLossAllowed": not switchover,
    }

    def moved():
        for other in global_cluster.members:
            other.is_writer = other is member
        global_cluster.status = "available"
        global_cluster.failover_state = None

    later(duration(operation), moved)
    return ActionResult({"GlobalCluster": global_cluster})


def switchover_global_cluster(self):
    return _change_global_writer(self, "SwitchoverGlobalCluster")


def failover_global_cluster(self):
    return _change_global_writer(self, "FailoverGlobalCluster")


# A switchover's synchronisation and a failover's loss are not modelled (Rebound reads the loss
# from AuroraGlobalDBReplicationLag first); the time each takes is.
RDSResponse.switchover_global_cluster = switchover_global_cluster
RDSResponse.failover_global_cluster = failover_global_cluster

# RDS API Reference (DocumentDB's and Neptune's are the same operation), DescribeGlobalClusters,
# GlobalClusterIdentifier: "If this parameter is specified, information from only the specific
# DB cluster is returned"; one that does not exist is GlobalClusterNotFoundFault. moto
# 5.2.5 ignores it and lists every global cluster.
_describe_global_clusters = RDSResponse.describe_global_clusters


def describe_global_clusters(self):
    wanted = self.params.get("GlobalClusterIdentifier")
    if not wanted:
        return _describe_global_clusters(self)
    found = next(
        (
            cluster
            for key, cluster in self.global_backend.global_clusters.items()
            if wanted in (key, cluster.global_cluster_arn)
        ),
        None,
    )
    if found is None:
        raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {wanted} not found.")
    return ActionResult({"GlobalClusters": [found]})


RDSResponse.describe_global_clusters = describe_global_clusters

# Amazon DocumentDB's management API is RDS's: the same endpoint (rds.REGION.amazonaws.com),
# signing name and API version (2014-10-31), so moto's RDS backend serves its calls. moto 5.2.5
# knows no "docdb" cluster engine (InvalidParameterValue). Admitted here with DocumentDB's
# defaults (Developer Guide: port 27017; engine version 5.0.0, DB cluster parameter group
# default.docdb5.0); the rest of a cluster is as moto keeps any other.
_cluster_engines = ClusterEngine.list_cluster_engines.__func__
ClusterEngine.list_cluster_engines = classmethod(lambda cls: sorted(_cluster_engines(cls) + ["docdb"]))
_default_engine_version = DBCluster.default_engine_version
_default_port = DBCluster.default_port
_default_allocated_storage = DBCluster.default_allocated_storage
DBCluster.default_engine_version = staticmethod(
    lambda engine: "5.0.0" if engine == "docdb" else _default_engine_version(engine)
)
DBCluster.default_port = staticmethod(lambda engine: 27017 if engine == "docdb" else _default_port(engine))
DBCluster.default_allocated_storage = staticmethod(
    lambda engine, storage_type: 1 if engine == "docdb" else _default_allocated_storage(engine, storage_type)
)
_db_cluster_init = DBCluster.__init__


def db_cluster_init(self, *args, **kwargs):
    _db_cluster_init(self, *args, **kwargs)
    if self.engine == "docdb" and not kwargs.get("db_cluster_parameter_group_name"):
        self.parameter_group = "default.docdb5.0"


DBCluster.__init__ = db_cluster_init

_create_health_check = Route53Response.create_health_check
_health_check_config = Route53HealthCheck.health_check_config.fget


def create_health_check(self):
    # AWS Route 53 API Reference, HealthCheckConfig: AlarmIdentifier "identifies the CloudWatch
    # alarm that you want Amazon Route 53 health checkers to use to determine whether the
    # specified health check is healthy", and InsufficientDataHealthStatus says what to do when
    # the alarm has too little data; GetHealthCheck returns both. moto drops them, so a
    # CLOUDWATCH_METRIC health check comes back following no alarm.
    result = _create_health_check(self)
    config = self._get_param("HealthCheckConfig") or {}
    check = result.result.get("HealthCheck") if isinstance(result.result, dict) else None
    if check is not None:
        check.alarm_identifier = config.get("AlarmIdentifier")
        check.insufficient_data_health_status = config.get("InsufficientDataHealthStatus")
    return result


def health_check_config(self):
    config = _health_check_config(self)
    if getattr(self, "alarm_identifier", None):
        config["AlarmIdentifier"] = self.alarm_identifier
    if getattr(self, "insufficient_data_health_status", None):
        config["InsufficientDataHealthStatus"] = self.insufficient_data_health_status
    return config


Route53Response.create_health_check = create_health_check
Route53HealthCheck.health_check_config = property(health_check_config)

class NoSuchChange(Route53ClientError):
    def __init__(self, change_id):
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def random_suffix():
    return "".join(mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(13))


_change_resource_record_sets = Route53Response.change_resource_record_sets
# change id -> monotonic time it is INSYNC from.
_CHANGES = {}


def change_resource_record_sets(self):
    # Route 53 API Reference, ChangeResourceRecordSets: "returns ... a ChangeInfo ... Status
    # PENDING" with an Id for GetChange, which says INSYNC once every name server has the
    # change. moto answers INSYNC at once, always with the same Id.
    result = _change_resource_record_sets(self)
    change_id = f"/change/C{random_suffix()}"
    with _time_lock:
        _CHANGES[change_id] = time.monotonic() + duration("ChangeResourceRecordSets")
    result.result["ChangeInfo"].update({"Id": change_id, "Status": "PENDING"})
    return result


def get_change(self):
    # Route 53 API Reference, GetChange: PENDING until the change has propagated, then INSYNC;
    # an Id it never gave is NoSuchChange.
    change_id = self._get_param("Id") or ""
    key = change_id if change_id.startswith("/change/") else f"/change/{change_id}"
    with _time_lock:
        due = _CHANGES.get(key)
    if due is None:
        raise NoSuchChange(change_id)
    status = "INSYNC" if time.monotonic() >= due else "PENDING"
    return ActionResult({"ChangeInfo": {"Id": key, "Status": status, "SubmittedAt": utcnow()}})


Route53Response.change_resource_record_sets = change_resource_record_sets
Route53Response.get_change = get_change

_update_service = EC2ContainerServiceBackend.update_service


def update_service(self, service_properties):
    # ECS: a service scaled out has its new tasks PENDING before RUNNING; DescribeServices shows
    # runningCount climbing to desiredCount (one task at a time here, evenly over the duration).
    # moto makes them all RUNNING at once.
    cluster = service_properties.get("cluster", "default")
    name = service_properties.get("service", "").split("/")[-1]
    before = self._get_service(cluster, name).running_count
    service = _update_service(self, service_properties)
    desired = service.desired_count
    if desired <= before:
        return service
    service.running_count, service.pending_count = before, desired - before
    seconds = duration("UpdateService")
    started = desired - before
    for n in range(1, started + 1):

        def one_more(n=n):
            service.running_count = before + n
            service.pending_count = desired - before - n

        later(seconds * n / started, one_more)
    return service


EC2ContainerServiceBackend.update_service = update_service

_set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity


def set_desired_capacity(self, new_capacity):
    # EC2 Auto Scaling: a launched instance is Pending before InService, and counts toward the
    # group's capacity while Pending (no second launch for it). moto makes it InService at once.
    before = {id(state) for state in self.instance_states}
    _set_desired_capacity(self, new_capacity)
    launched = [state for state in self.instance_states if id(state) not in before]
    for state in launched:
        state.lifecycle_state = "Pending"

        def in_service(state=state):
            if state.lifecycle_state == "Pending":
                state.lifecycle_state = "InService"

        later(duration("UpdateAutoScalingGroup"), in_service)


def active_instances(self):
    return [x for x in self.instance_states if x.lifecycle_state in ("InService", "Pending")]


FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity
FakeAutoScalingGroup.active_instances = active_instances

# EKS User Guide, "Managed node groups": a managed node group runs in an EC2 Auto Scaling group
# that EKS creates and manages (DescribeNodegroup's resources.autoScalingGroups). EKS API
# Reference, UpdateNodegroupConfig: its scalingConfig is "the scaling configuration details for
# the Auto Scaling group after the update"; the update is InProgress until it ends, the node
# group UPDATING (Nodegroup.status) meanwhile, and ResourceInUseException answers another update
# of it. moto names a group it never creates and applies an update at once. Here the node group's
# group exists (its launch configuration of the node group's first instance type), and an update
# leaves the node group UPDATING for its time, then sets the group's min, max and desired, whose
# new instances are Pending, then InService, as any group's.
_create_nodegroup = EKSBackend.create_nodegroup
_update_nodegroup_config = EKSBackend.update_nodegroup_config


def _node_group(backend, nodegroup):
    name = nodegroup.resources["autoScalingGroups"][0]["name"]
    return autoscaling_backends[backend.account_id][backend.region_name], name


def create_nodegroup(self, *args, **kwargs):
    nodegroup = _create_nodegroup(self, *args, **kwargs)
    autoscaling, name = _node_group(self, nodegroup)
    scaling = nodegroup.scaling_config
    autoscaling.create_launch_configuration(
        name=name, image_id="ami-0123456789abcdef0", key_name=None, kernel_id="", ramdisk_id="",
        security_groups=[], user_data=None, instance_type=nodegroup.instance_types[0],
        instance_monitoring=False, instance_profile_name=None, spot_price=None, ebs_optimized=False,
        associate_public_ip_address=False, block_device_mappings=[],
    )
    autoscaling.create_auto_scaling_group(
        name=name, availability_zones=[self.region_name + "a"],
        desired_capacity=scaling["desiredSize"], max_size=scaling["maxSize"], min_size=scaling["minSize"],
        launch_config_name=name, launch_template={}, vpc_zone_identifier=None, default_cooldown=None,
        health_check_period=None, health_check_type=None, load_balancers=[], target_group_arns=[],
        placement_group=None, termination_policies=[], tags=[],
    )
    return nodegroup


def update_nodegroup_config(self, cluster_name, nodegroup_name, *args, **kwargs):
    nodegroup = self.clusters[cluster_name].nodegroups[nodegroup_name] if cluster_name in self.clusters else None
    if nodegroup is not None and nodegroup.status == "UPDATING":
        raise EksResourceInUse(
            clusterName=cluster_name, nodegroupName=nodegroup_name, fargateProfileName=None, addonName=None,
            message=f"Nodegroup {nodegroup_name} is currently being updated",
        )
    update = _update_nodegroup_config(self, cluster_name, nodegroup_name, *args, **kwargs)
    nodegroup = self.clusters[cluster_name].nodegroups[nodegroup_name]
    nodegroup.status = "UPDATING"
    update["status"] = "InProgress"
    scaling = dict(nodegroup.scaling_config)

    def done():
        autoscaling, name = _node_group(self, nodegroup)
        group = autoscaling.autoscaling_groups.get(name)
        if group is not None:
            group.min_size = scaling["minSize"]
            group.max_size = scaling["maxSize"]
            group.set_desired_capacity(scaling["desiredSize"])
        nodegroup.status = "ACTIVE"

    later(duration("UpdateNodegroupConfig"), done)
    return update


EKSBackend.create_nodegroup = create_nodegroup
EKSBackend.update_nodegroup_config = update_nodegroup_config

_put_metric_data = CloudWatchBackend.put_metric_data
CloudWatchBackend.put_metric_data = put_metric_data


def dimension_before(self, other):
    # AWS CloudWatch API Reference, Dimension: "A dimension is a name/value pair that is part of
    # the identity of a metric": a metric is its set of pairs, whatever order a caller lists
    # them in. moto 5.2.5 matches a GetMetricData query's dimensions with sorted(), whose
    # Dimension.__lt__ compares one's value with the other's name, so the same set in another
    # order finds nothing (ECS/ContainerInsights' ClusterName and ServiceName, for one).
    return (self.name or "", self.value or "") < (other.name or "", other.value or "")


CloudWatchDimension.__lt__ = dimension_before

_update_table = DynamoHandler.update_table
_describe_table = DynamoTable.describe
# (account, table) -> the regions holding a replica of that global table.
_GLOBAL_TABLES = {}


def update_table(self):
    # AWS DynamoDB API Reference, UpdateTable, ReplicaUpdates: "A list of replica update actions
    # (create, delete, or update) for the table" (global tables version 2019.11.21): Create
    # makes a replica of the table in RegionName, Delete removes the replica there; DescribeTable
    # then lists the replicas under Replicas, each with its ReplicaStatus. moto 5.2.5 ignores
    # ReplicaUpdates: no replica is made and no table has Replicas. Here a replica is made at
    # once (ACTIVE) with the table's keys; replication of items is not modelled (Rebound reads
    # the replication latency from CloudWatch's ReplicationLatency).
    updates = self.body.get("ReplicaUpdates") or []
    name = self.body.get("TableName", "")
    others = {k: v for k, v in self.body.items() if k not in ("ReplicaUpdates", "TableName")}
    table = self.dynamodb_backend.get_table(name)
    key = (self.current_account, name)
    for update in updates:
        if "Create" in update:
            region = update["Create"]["RegionName"]
            replica = dynamodb_backends[self.current_account][region]
            if name not in replica.tables:
                replica.create_table(
                    name,
                    schema=table.schema,
                    throughput=None,
                    attr=table.attr,
                    global_indexes=None,
                    indexes=None,
                    streams=None,
                    billing_mode="PAY_PER_REQUEST",
                    sse_specification=None,
                    tags=[],
                    deletion_protection_enabled=None,
                    warm_throughput=None,
                )
            _GLOBAL_TABLES.setdefault(key, {table.region_name}).add(region)
        elif "Delete" in update:
            region = update["Delete"]["RegionName"]
            _GLOBAL_TABLES.get(key, set()).discard(region)
            replica = dynamodb_backends[self.current_account][region]
            if name in replica.tables:
                replica.delete_table(name)
    if updates and not others:
        return DynamoResult(table.describe())
    return _update_table(self)


def describe_table_with_replicas(self, base_key="TableDescription"):
    result = _describe_table(self, base_key)
    regions = _GLOBAL_TABLES.get((self.account_id, self.name), set())
    if self.region_name in regions:
        result[base_key]["Replicas"] = [
            {"RegionName": region, "ReplicaStatus": "ACTIVE"}
            for region in sorted(regions)
            if region != self.region_name
        ]
    return result


DynamoHandler.update_table = update_table
DynamoTable.describe = describe_table_with_replicas


# AWS Step Functions API Reference, SendTaskFailure: "cause: A more detailed explanation of the
# cause of the failure", which the task's TaskFailed event and the execution's ExecutionFailed
# event then carry. moto's handler passes the error on and drops the cause, so a rejected
# approval's reason never reaches the history. Its executing backend takes the cause; the
# default one ignores both.
def send_task_failure(self):
    backend = self.stepfunction_backend
    token, error, cause = self._get_param("taskToken"), self._get_param("error"), self._get_param("cause")
    if "cause" in inspect.signature(backend.send_task_failure).parameters:
        backend.send_task_failure(token, error=error, cause=cause)
    else:
        backend.send_task_failure(token, error=error)
    return EmptyResult()


StepFunctionResponse.send_task_failure = send_task_failure


# AWS Step Functions API Reference, GetExecutionHistory: "maxResults: The maximum number of
# results that are returned per call ... the default is 100 and the maximum allowed page size is
# 1000", "nextToken: If nextToken is returned, there are more results available", and
# "reverseOrder: Lists events in descending order of their timeStamp". moto returns every event,
# oldest first, whatever the call asks, so a reader that pages, or reads the newest events first,
# is never exercised.
def get_execution_history(self):
    history = self.stepfunction_backend.get_execution_history(self._get_param("executionArn"))
    events = list(history["events"])
    if self._get_param("reverseOrder"):
        events.reverse()
    size = int(self._get_param("maxResults") or 0) or 100
    start = int(self._get_param("nextToken") or 0)
    page = {"events": events[start:start + size]}
    if start + size < len(events):
        page["nextToken"] = str(start + size)
    return ActionResult(page)


StepFunctionResponse.get_execution_history = get_execution_history

# AWS serves CloudWatch over Smithy RPC v2 CBOR (its service model lists smithy-rpc-v2-cbor
# first, and the AWS SDK for Rust speaks only that); moto serves CloudWatch over the JSON and
# query protocols only and answers 404 at /service/.../operation/.... This translates a CBOR
# request into the same operation in the JSON protocol, and moto's JSON answer back to CBOR,
# using botocore's own CBOR codec and service model.
CBOR_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}
_models = {}


def _service_model(target_prefix):
    if target_prefix not in _models:
        _models[target_prefix] = get_session().get_service_model(CBOR_SERVICES[target_prefix])
    return _models[target_prefix]


def _epoch(value):
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _cbor(data, shape):
    out = bytearray()
    RpcV2CBORSerializer()._serialize_data_item(out, data, shape)
    return bytes(out)


class _ErrorShape:
    """Shape of an RPC v2 error body: a structure of strings."""

    type_name = "structure"
    serialization = {}

    def __init__(self, data):
        self.members = {key: _StringShape() for key in data}


class _StringShape:
    type_name = "string"
    serialization = {}


def _translate(app, environ, start_response):
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    if len(parts) != 4 or parts[0] != "service" or parts[2] != "operation" or parts[1] not in CBOR_SERVICES:
        return app(environ, start_response)
    target_prefix, operation = parts[1], parts[3]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    params = {}
    if body:
        parser = RpcV2CBORParser()
        params = parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))
    payload = json.dumps(params, default=_epoch).encode()
    environ = dict(environ)
    environ.pop("HTTP_SMITHY_PROTOCOL", None)
    environ.update(
        {
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(payload)),
            "HTTP_X_AMZ_TARGET": f"{target_prefix}.{operation}",
            "wsgi.input": io.BytesIO(payload),
        }
    )
    captured = {}

    def capture(status, headers, exc_info=None):
        captured["status"] = status
        return lambda chunk: None

    chunks = app(environ, capture)
    answer = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    data = json.loads(answer) if answer.strip() else {}
    status = captured.get("status", "500 INTERNAL SERVER ERROR")
    if status.startswith("2"):
        shape = _service_model(target_prefix).operation_model(operation).output_shape
        encoded = _cbor(data, shape) if shape is not None else _cbor({}, _ErrorShape({}))
    else:
        error = {key: str(value) for key, value in data.items() if key in ("__type", "message", "Message")}
        encoded = _cbor(error, _ErrorShape(error))
    start_response(
        status,
        [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(encoded))),
        ],
    )
    return [encoded]


# Service Quotas. moto 5.2.5 knows the quotas of one service, vpc; for any other,
# GetServiceQuota and GetAWSDefaultServiceQuota answer NoSuchResourceException. The quotas a
# recovery region's capacity needs are described here as the Service Quotas API Reference's
# ServiceQuota shape has them (QuotaName, Unit, Adjustable, GlobalQuota, UsageMetric): the usage
# metric each names is the one the service publishes in AWS/Usage (Amazon ECS Developer Guide,
# "AWS Fargate usage metrics": ResourceCount, Service=Fargate, Type=Resource, Resource=vCPU,
# Class=Standard/OnDemand; Amazon EC2 User Guide, "Amazon EC2 usage metrics"; Amazon RDS User
# Guide, "Amazon RDS usage metrics": Resource=DBInstances). An account's value differs from
# account to account (new accounts get lower ones, AWS raises them with use), so none is
# assumed: a test sets the account's applied value with POST /rebound-api/quotas
# {"fargate/L-3032A538": 4}, and a quota no test set is NoSuchResourceException, as before.
QUOTAS = {
    ("fargate", "L-3032A538"): (
        "Fargate On-Demand vCPU resource count",
        "None",
        {"Service": "Fargate", "Type": "Resource", "Resource": "vCPU", "Class": "Standard/OnDemand"},
    ),
    ("ec2", "L-1216C47A"): (
        "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        "None",
        {"Service": "EC2", "Type": "Resource", "Resource": "vCPU", "Class": "Standard/OnDemand"},
    ),
    ("rds", "L-7B6409FD"): (
        "DB instances",
        "None",
        {"Service": "RDS", "Type": "Resource", "Resource": "DBInstances", "Class": "None"},
    ),
}
# (account, region, service code, quota code) -> the applied value.
_QUOTA_VALUES = {}
_get_service_quota = ServiceQuotasBackend.get_service_quota


def _quota(backend, service_code, quota_code):
    known = QUOTAS.get((service_code, quota_code))
    value = _QUOTA_VALUES.get((backend.account_id, backend.region_name, service_code, quota_code))
    if known is None or value is None:
        return _get_service_quota(backend, service_code, quota_code)
    name, unit, dimensions = known
    return {
        "ServiceCode": service_code,
        "QuotaArn": f"arn:aws:servicequotas:{backend.region_name}:{backend.account_id}:{service_code}/{quota_code}",
        "QuotaCode": quota_code,
        "QuotaName": name,
        "Value": float(value),
        "Unit": unit,
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": {
            "MetricNamespace": "AWS/Usage",
            "MetricName": "ResourceCount",
            "MetricDimensions": dimensions,
            "MetricStatisticRecommendation": "Maximum",
        },
    }


ServiceQuotasBackend.get_service_quota = _quota


def set_quotas(environ, start_response):
    # {"fargate/L-3032A538": 4} sets that quota's applied value in every region of moto's
    # default account (a test's "account"), or of the account `?account=ID` names (quotas are
    # each account's own).
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
    keys = {key: tuple(key.split("/", 1)) for key in body}
    unknown = sorted(key for key, pair in keys.items() if pair not in QUOTAS)
    if unknown:
        start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
        return [json.dumps({"unknown": unknown, "known": sorted(f"{s}/{q}" for s, q in QUOTAS)}).encode()]
    from urllib.parse import parse_qs

    from moto.core import DEFAULT_ACCOUNT_ID

    account = parse_qs(environ.get("QUERY_STRING", "")).get("account", [DEFAULT_ACCOUNT_ID])[0]
    for key, (service_code, quota_code) in keys.items():
        for region in ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1"):
            _QUOTA_VALUES[(account, region, service_code, quota_code)] = body[key]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


class _Dispatcher(moto.server.DomainDispatcherApplication):
    def __call__(self, environ, start_response):
        advance()
        if environ.get("PATH_INFO") == "/rebound-api/durations":
            return set_durations(environ, start_response)
        if environ.get("PATH_INFO") == "/rebound-api/quotas":
            return set_quotas(environ, start_response)
        if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
            try:
                return _translate(super().__call__, environ, start_response)
            except Exception:
                traceback.print_exc()
                raise
        return super().__call__(environ, start_response)


moto.server.DomainDispatcherApplication = _Dispatcher

# Beside this file (the harness writes them into one folder).
import global_datastores  # noqa: E402
import multi_region_clusters  # noqa: E402

global_datastores.install(later, duration)
multi_region_clusters.install()


def _zygote():
    """One forked server per line read (`PORT LOG`, answered with the server's pid; `kill PID`
    stops one): the imports and patches above are paid once per test process instead of once
    per server, and each server is still a process of its own on its own port. The zygote
    ends when its reader closes stdin, and its servers with it (Linux's parent-death signal).
    """
    import ctypes
    import random
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # servers reaped as they end
    libc = ctypes.CDLL(None, use_errno=True)
    zygote = os.getpid()
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "kill":
            try:
                os.kill(int(words[1]), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            continue
        if len(words) < 2:
            continue
        port, log = words[0], line.strip().split(" ", 1)[1]
        pid = os.fork()
        if pid == 0:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != zygote:
                os._exit(1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            # Each server its own random ids, as a process started apart would have.
            random.seed()
            mock_random.seed()
            code = 1
            try:
                code = moto.server.main(["-H", "127.0.0.1", "-p", port]) or 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        print(pid, flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--zygote"]:
        _zygote()
    else:
        sys.exit(moto.server.main(sys.argv[1:]))
