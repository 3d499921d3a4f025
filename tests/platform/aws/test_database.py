"""The MLflow database: private, encrypted, backed up, Multi-AZ in prod; its password generated
and kept by RDS in Secrets Manager, never in Pulumi's state."""

from __future__ import annotations

from infra.offline import StackRun
from infra.offline.aws import CLUSTER_SECURITY_GROUP
from tests.platform.aws.conftest import stack_file

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
    assert stack.outputs["database"]["sslMode"] == "require"


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


def test_rds_manages_the_master_password_in_secrets_manager(stack: StackRun) -> None:
    """No password is generated, set or stored by Pulumi: RDS creates and rotates it in a
    Secrets Manager secret encrypted with the database key, and the contract names that secret."""
    db = stack.one(INSTANCE).inputs
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    key = stack.one("aws:kms/key:Key", "mlflow-db-key")
    assert db["masterUserSecretKmsKeyId"].endswith(f":key/{key.name}-id")
    assert stack.of_type("random:index/randomPassword:RandomPassword") == []
    assert stack.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []
    contract = stack.outputs["database"]
    assert contract["password"]["store"] == "aws-secrets-manager"
    assert contract["password"]["name"].startswith("arn:aws:secretsmanager:")
    assert ":secret:rds!db-" in contract["password"]["name"]
    assert contract["password"]["property"] == "password"
    assert contract["user"] == stack_file(stack.stack)["stratus:aws"]["database"].get(
        "username", "mlflow"
    )
    # Nothing in the outputs could carry a database password any more.
    assert stack.secret_outputs == {"kubeconfig"}


def test_postgres_logs_are_kept_as_configured(stack: StackRun) -> None:
    db = stack.one(INSTANCE).inputs
    groups = {
        g.inputs["name"]: g.inputs["retentionInDays"]
        for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.inputs.get("name", "").startswith("/aws/rds/")
    }
    expected = stack_file(stack.stack)["stratus:aws"]["database"].get("logRetentionDays", 30)
    assert groups == {
        f"/aws/rds/instance/{db['identifier']}/{log}": expected
        for log in db["enabledCloudwatchLogsExports"]
    }
