"""S3: every bucket private, versioned, encrypted, TLS-only, with lifecycle rules and logging;
the models bucket replicated to a second region in prod."""

from __future__ import annotations

import json
from collections.abc import Iterator

from infra.offline import Registered, StackRun
from tests.platform.aws.conftest import policy, stack_file

BUCKET = "aws:s3/bucket:Bucket"
DATA_STORES = ("data-raw", "data-processed", "models", "mlflow-artifacts")


def _config_of(run: StackRun, token: str, bucket: Registered) -> Registered:
    """The per-bucket configuration resource of type ``token`` attached to ``bucket``."""
    found = [r for r in run.of_type(token) if r.inputs["bucket"] == f"{bucket.name}-id"]
    assert len(found) == 1, f"{bucket.name}: expected one {token}, got {len(found)}"
    return found[0]


def _store(run: StackRun, store: str) -> Registered:
    (bucket,) = [b for b in run.of_type(BUCKET) if b.name.endswith(f"-storage-{store}")]
    return bucket


def _buckets(run: StackRun) -> Iterator[Registered]:
    yield from run.of_type(BUCKET)


def test_the_four_stores_plus_access_logs(dev: StackRun, prod: StackRun) -> None:
    for run in (dev, prod):
        names = {b.name.split("-storage-", 1)[1] for b in _buckets(run)}
        expected = {*DATA_STORES, "access-logs"}
        assert names == (expected | {"models-replica"} if run is prod else expected)
        for store, output in zip(
            DATA_STORES,
            ("dataRaw", "dataProcessed", "models", "mlflowArtifacts"),
            strict=True,
        ):
            assert run.outputs["stores"][output] == f"s3://{_store(run, store).name}-a1b2c3d"


def test_every_bucket_blocks_all_public_access(stack: StackRun) -> None:
    for bucket in _buckets(stack):
        block = _config_of(stack, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        ):
            assert block.inputs[flag] is True, (bucket.name, flag)
        ownership = _config_of(
            stack, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket
        )
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_every_bucket_is_versioned(stack: StackRun) -> None:
    for bucket in _buckets(stack):
        versioning = _config_of(stack, "aws:s3/bucketVersioning:BucketVersioning", bucket)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"


def test_data_buckets_use_the_storage_kms_key_and_logs_use_sse_s3(stack: StackRun) -> None:
    key = stack.one("aws:kms/key:Key", "storage-key")
    assert key.inputs["enableKeyRotation"] is True
    token = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    for bucket in _buckets(stack):
        (rule,) = _config_of(stack, token, bucket).inputs["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        if bucket.name.endswith("access-logs"):
            # S3 cannot deliver server access logs to an SSE-KMS bucket.
            assert default == {"sseAlgorithm": "AES256"}
        elif bucket.name.endswith("models-replica"):
            replica_key = stack.one("aws:kms/key:Key", "replica-key")
            assert default["sseAlgorithm"] == "aws:kms"
            assert default["kmsMasterKeyId"].endswith(f":key/{replica_key.name}-id")
        else:
            assert default["sseAlgorithm"] == "aws:kms"
            assert default["kmsMasterKeyId"].endswith(f":key/{key.name}-id")
            assert rule["bucketKeyEnabled"] is True


def test_every_bucket_denies_requests_without_tls(stack: StackRun) -> None:
    for bucket in _buckets(stack):
        document = policy(_config_of(stack, "aws:s3/bucketPolicy:BucketPolicy", bucket))
        arn = f"arn:aws:s3:::{bucket.name}-a1b2c3d"
        deny = [s for s in document["Statement"] if s["Effect"] == "Deny"]
        assert deny == [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Action": ["s3:*"],
                "Principal": "*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        allows = [s for s in document["Statement"] if s["Effect"] == "Allow"]
        if bucket.name.endswith("access-logs"):
            (allow,) = allows
            assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
            assert allow["Action"] == ["s3:PutObject"]
            assert allow["Resource"] == [f"{arn}/*"]
            assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        else:
            assert allows == []


def test_data_buckets_log_access_to_the_log_bucket(stack: StackRun) -> None:
    logs = stack.one(BUCKET, "access-logs")
    for store in DATA_STORES:
        bucket = _store(stack, store)
        logging = _config_of(stack, "aws:s3/bucketLogging:BucketLogging", bucket)
        assert logging.inputs["targetBucket"] == f"{logs.name}-a1b2c3d"
        assert logging.inputs["targetPrefix"] == f"{store}/"


def test_lifecycle_rules(stack: StackRun) -> None:
    config = stack_file(stack.stack)["stratus:aws"]["storage"]
    token = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    for bucket in _buckets(stack):
        rules = {r["id"]: r for r in _config_of(stack, token, bucket).inputs["rules"]}
        assert all(r["status"] == "Enabled" for r in rules.values())
        assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
            "noncurrentDays": config["noncurrentVersionExpiryDays"]
        }
        assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
            "daysAfterInitiation": 7
        }
        if bucket.name.endswith("data-raw"):
            assert rules["raw-to-infrequent-access"]["transitions"] == [
                {"days": config["rawDataInfrequentAccessDays"], "storageClass": "STANDARD_IA"}
            ]
        if bucket.name.endswith("access-logs"):
            assert rules["expire-access-logs"]["expiration"] == {
                "days": config["accessLogRetentionDays"]
            }


def test_models_replicate_to_the_configured_region_in_prod_only(
    dev: StackRun, prod: StackRun
) -> None:
    assert dev.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig") == []
    region = stack_file("aws-prod")["stratus:aws"]["storage"]["modelReplicationRegion"]
    replica = prod.one(BUCKET, "models-replica")
    assert replica.inputs["region"] == region
    assert prod.one("aws:kms/key:Key", "replica-key").inputs["region"] == region
    replication = prod.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig").inputs
    assert replication["bucket"] == f"{_store(prod, 'models').name}-a1b2c3d"
    (rule,) = replication["rules"]
    assert rule["status"] == "Enabled"
    assert rule["destination"]["bucket"] == f"arn:aws:s3:::{replica.name}-a1b2c3d"
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    role = prod.one("aws:iam/role:Role", "replication-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": ["s3.amazonaws.com"]
    }
    assert replication["role"].endswith(f"role/{role.name}-a1b2c3d")
