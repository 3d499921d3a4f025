"""Resources per type for each shipped stack: a change here is churn to review on purpose."""

from __future__ import annotations

from infra.offline import StackRun

COMMON = {
    # The stack's monthly budget (infra/aws/budget.py).
    "aws:budgets/budget:Budget": 1,
    "stratus:aws:Budget": 1,
    # EKS control plane, VPC flow logs, RDS postgresql + upgrade logs.
    "aws:cloudwatch/logGroup:LogGroup": 4,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
    "aws:ec2/flowLog:FlowLog": 1,
    "aws:ec2/internetGateway:InternetGateway": 1,
    "aws:ec2/routeTable:RouteTable": 4,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 6,
    # endpoints, deployers, cluster API access, database.
    "aws:ec2/securityGroup:SecurityGroup": 4,
    "aws:ec2/subnet:Subnet": 6,
    "aws:ec2/vpc:Vpc": 1,
    # S3 gateway + ECR api/dkr, STS, EC2, Logs, SSM, SSM messages, EC2 messages.
    "aws:ec2/vpcEndpoint:VpcEndpoint": 9,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": 2,
    "aws:ecr/repository:Repository": 2,
    "aws:eks/addon:Addon": 4,
    "aws:eks/cluster:Cluster": 1,
    # the cluster's (IRSA) and GitHub's (CI identities)
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 2,
    # CI deploy role: cluster admin
    "aws:eks/accessEntry:AccessEntry": 1,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 1,
    # cluster, VPC CNI, EBS CSI, 2 node; CI preview (read-only)
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 6,
    "aws:kms/alias:Alias": 2,
    "aws:rds/instance:Instance": 1,
    "aws:rds/parameterGroup:ParameterGroup": 1,
    "aws:rds/subnetGroup:SubnetGroup": 1,
    "aws:s3/bucketLogging:BucketLogging": 4,
    # The API keys secret (RDS keeps the database secret itself).
    "aws:secretsmanager/secret:Secret": 1,
    "stratus:aws:Cluster": 1,
    "stratus:aws:Database": 1,
    "stratus:aws:DeliveryIdentities": 1,
    "stratus:aws:Network": 1,
    "stratus:aws:PlatformSecrets": 1,
    "stratus:aws:Registry": 1,
    "stratus:aws:Storage": 1,
    "stratus:aws:WorkloadIdentities": 1,
}


def _buckets(count: int) -> dict[str, int]:
    return {
        "aws:s3/bucket:Bucket": count,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": count,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": count,
        "aws:s3/bucketPolicy:BucketPolicy": count,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": count,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
            count
        ),
        "aws:s3/bucketVersioning:BucketVersioning": count,
        "stratus:aws:PrivateBucket": count,
    }


def test_dev_resource_counts(dev: StackRun) -> None:
    assert dev.count_by_type() == dict(
        sorted(
            {
                **COMMON,
                **_buckets(5),
                "aws:ec2/eip:Eip": 1,
                "aws:ec2/natGateway:NatGateway": 1,
                "aws:ec2/launchTemplate:LaunchTemplate": 3,
                "aws:eks/nodeGroup:NodeGroup": 3,
                "stratus:aws:NodeGroup": 3,
                # autoscaler node templates of the training group (2 labels, 1 taint)
                "aws:autoscaling/tag:Tag": 3,
                # cluster, VPC CNI, EBS CSI, flow logs, nodes + 4 workloads + 2 add-ons
                # + 3 CI identities (deploy, preview, images)
                "aws:iam/role:Role": 14,
                # + the CI deploy identity's scoped policy (no AdministratorAccess)
                "aws:iam/rolePolicy:RolePolicy": 9,
                "aws:kms/key:Key": 5,
            }.items()
        )
    )
    assert len(dev.resources) == 158


def test_prod_resource_counts(prod: StackRun) -> None:
    """Prod adds two NAT gateways, the GPU node group and the models replica (bucket, key,
    replication role and policy, replication configuration)."""
    assert prod.count_by_type() == dict(
        sorted(
            {
                **COMMON,
                **_buckets(6),
                "aws:ec2/eip:Eip": 3,
                "aws:ec2/natGateway:NatGateway": 3,
                "aws:ec2/launchTemplate:LaunchTemplate": 4,
                "aws:eks/nodeGroup:NodeGroup": 4,
                "stratus:aws:NodeGroup": 4,
                # training and gpu node templates (2 labels, 1 taint each)
                "aws:autoscaling/tag:Tag": 6,
                "aws:iam/role:Role": 15,
                "aws:iam/rolePolicy:RolePolicy": 10,
                "aws:kms/key:Key": 6,
                "aws:s3/bucketReplicationConfig:BucketReplicationConfig": 1,
            }.items()
        )
    )
    assert len(prod.resources) == 180
