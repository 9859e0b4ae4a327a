"""The database: an existing MySQL endpoint, or an Aurora MySQL Serverless v2 cluster.

Either way the password lives in Secrets Manager and reaches a task as DRIPR_DATABASE_PASSWORD
(the execution role reads it); DATABASE_URL carries only user, host and name.
"""

from __future__ import annotations

from typing import Any

HOST = {
    "Fn::If": [
        "UseAurora",
        {"Fn::GetAtt": ["Database", "Endpoint.Address"]},
        {"Ref": "DatabaseHost"},
    ]
}
PASSWORD = {
    "Fn::If": [
        "UseAurora",
        {"Fn::Sub": "${Database.MasterUserSecret.SecretArn}:password::"},
        {"Fn::Sub": "${DatabaseSecretArn}:password::"},
    ]
}
SECRETS = [
    {
        "Fn::If": [
            "UseAurora",
            {"Fn::GetAtt": ["Database", "MasterUserSecret.SecretArn"]},
            {"Ref": "AWS::NoValue"},
        ]
    },
    {"Fn::If": ["HasDatabaseSecret", {"Ref": "DatabaseSecretArn"}, {"Ref": "AWS::NoValue"}]},
]
"""The database password's secret: Aurora's own, or the one given for an existing endpoint."""


def resources() -> dict[str, Any]:
    aurora = {"Condition": "UseAurora"}
    return {
        "DatabaseSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            **aurora,
            "Properties": {
                "GroupDescription": "dripr Aurora: MySQL from the tasks",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 3306,
                        "ToPort": 3306,
                        "SourceSecurityGroupId": {"Ref": "TaskSecurityGroup"},
                    }
                ],
            },
        },
        "DatabaseSubnets": {
            "Type": "AWS::RDS::DBSubnetGroup",
            **aurora,
            "Properties": {
                "DBSubnetGroupDescription": "dripr Aurora",
                "SubnetIds": {"Ref": "PrivateSubnetIds"},
            },
        },
        "Database": {
            "Type": "AWS::RDS::DBCluster",
            **aurora,
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": {
                "Engine": "aurora-mysql",
                "EngineVersion": "8.0.mysql_aurora.3.08.0",
                "DatabaseName": {"Ref": "DatabaseName"},
                "MasterUsername": {"Ref": "DatabaseUser"},
                "ManageMasterUserPassword": True,
                "StorageEncrypted": True,
                "DeletionProtection": True,
                "BackupRetentionPeriod": 7,
                "DBSubnetGroupName": {"Ref": "DatabaseSubnets"},
                "VpcSecurityGroupIds": [{"Ref": "DatabaseSecurityGroup"}],
                "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 8},
            },
        },
        "DatabaseWriter": {
            "Type": "AWS::RDS::DBInstance",
            **aurora,
            "Properties": {
                "DBClusterIdentifier": {"Ref": "Database"},
                "DBInstanceClass": "db.serverless",
                "Engine": "aurora-mysql",
            },
        },
    }
