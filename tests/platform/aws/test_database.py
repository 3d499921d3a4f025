"""The MLflow database: private, encrypted, backed up, Multi-AZ in prod, password never in plain
text."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tests.platform.aws.conftest import stack_file
from tests.platform.aws.mocks import CLUSTER_SECURITY_GROUP
from tests.platform.harness import StackRun

INSTANCE = "aws:rds/instance:Instance"


def test_database_is_private_and_encrypted(stack: StackRun) -> None:
    db = stack.one(INSTANCE).inputs
    assert db["publiclyAccessible"] is False
    assert db["storageEncrypted"] is True
    key = stack.one("aws:kms/key:Key", "mlflow-db-key")
    assert db["kmsKeyId"].endswith(f":key/{key.name}-id")
    subnets = stack.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]
    private = sorted(
        f"{s.name}-id" for s in stack.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name
    )
    assert sorted(subnets) == private


def test_only_the_cluster_reaches_the_database(stack: StackRun) -> None:
    sg = stack.one("aws:ec2/securityGroup:SecurityGroup", "mlflow-db-sg").inputs
    assert sg["ingress"] == [
        {
            "protocol": "tcp",
            "fromPort": 5432,
            "toPort": 5432,
            "securityGroups": [CLUSTER_SECURITY_GROUP],
            "description": "EKS cluster security group",
        }
    ]
    assert stack.one(INSTANCE).inputs["vpcSecurityGroupIds"] == [
        f"{stack.one('aws:ec2/securityGroup:SecurityGroup', 'mlflow-db-sg').name}-id"
    ]


def test_tls_is_enforced(stack: StackRun) -> None:
    params = {
        p["name"]: p["value"]
        for p in stack.one("aws:rds/parameterGroup:ParameterGroup").inputs["parameters"]
    }
    assert params["rds.force_ssl"] == "1"
    assert urlsplit(stack.outputs["databaseDsn"]).query == "sslmode=require"


def test_availability_and_backups_follow_the_config(dev: StackRun, prod: StackRun) -> None:
    for run in (dev, prod):
        config = stack_file(run.stack)["stratus:aws"]["database"]
        db = run.one(INSTANCE).inputs
        assert db["multiAz"] is config["multiAz"]
        # Automated backups give point-in-time recovery (RPO ~5 minutes) within the retention.
        assert db["backupRetentionPeriod"] == config["backupRetentionDays"] >= 1
        assert db["deletionProtection"] is config["deletionProtection"]
        assert db["engine"] == "postgres"
        assert db["instanceClass"] == config["instanceClass"]
    assert prod.one(INSTANCE).inputs["multiAz"] is True
    assert prod.one(INSTANCE).inputs["skipFinalSnapshot"] is False
    assert dev.one(INSTANCE).inputs["multiAz"] is False


def _password(run: StackRun) -> str:
    password = urlsplit(run.outputs["databaseDsn"]).password
    assert password, "the DSN carries the generated password"
    return password


def test_password_is_generated_and_only_ever_secret(stack: StackRun) -> None:
    password = _password(stack)
    generated = stack.one("random:index/randomPassword:RandomPassword").inputs
    assert generated["length"] == len(password) == 40
    db = stack.one(INSTANCE)
    assert db.inputs["password"] == password
    assert "password" in db.secret_paths
    assert "databaseDsn" in stack.secret_outputs
    assert stack.plaintext_occurrences(password) == []


def test_credentials_are_in_secrets_manager_encrypted(stack: StackRun) -> None:
    password = _password(stack)
    version = stack.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert "secretString" in version.secret_paths
    document = json.loads(version.inputs["secretString"])
    assert document["password"] == password
    assert document["dsn"] == stack.outputs["databaseDsn"]
    assert document["host"] == stack.outputs["databaseHost"]
    secret = stack.one("aws:secretsmanager/secret:Secret").inputs
    key = stack.one("aws:kms/key:Key", "mlflow-db-key")
    assert secret["kmsKeyId"].endswith(f":key/{key.name}-id")


def test_plaintext_finder_would_catch_a_leak(stack: StackRun) -> None:
    """The no-plain-text check is only meaningful if it finds the password where it is public:
    here, the DSN output read back without its secret marker."""
    leaked = StackRun(
        stack=stack.stack,
        resources=stack.resources,
        outputs=stack.outputs,
        secret_outputs=frozenset(),
    )
    assert leaked.plaintext_occurrences(_password(stack)) == ["stack output databaseDsn"]
