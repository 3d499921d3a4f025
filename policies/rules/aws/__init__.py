"""AWS foundation rules: EKS, nodes, S3, ECR, RDS, KMS, IAM, security groups."""

from policies.rules.aws import access, cluster, data, storage

RULES = (*cluster.RULES, *storage.RULES, *data.RULES, *access.RULES)
