"""The network around the tasks: security groups, and the control API's HTTPS load balancer."""

from __future__ import annotations

from typing import Any

API_PORT = 8000


def resources() -> dict[str, Any]:
    return {
        "LoadBalancerSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "dripr control API load balancer: HTTPS from anywhere",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}
                ],
            },
        },
        "TaskSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "dripr tasks: out to AWS and the database; in from the LB",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": API_PORT,
                        "ToPort": API_PORT,
                        "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
                    }
                ],
            },
        },
        "ApiLoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Scheme": "internet-facing",
                "Subnets": {"Ref": "PublicSubnetIds"},
                "SecurityGroups": [{"Ref": "LoadBalancerSecurityGroup"}],
            },
        },
        "ApiTargets": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "VpcId": {"Ref": "VpcId"},
                "TargetType": "ip",
                "Protocol": "HTTP",
                "Port": API_PORT,
                "HealthCheckPath": "/ready",
                "TargetGroupAttributes": [
                    {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}
                ],
            },
        },
        "ApiListener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "ApiLoadBalancer"},
                "Protocol": "HTTPS",
                "Port": 443,
                "Certificates": [{"CertificateArn": {"Ref": "CertificateArn"}}],
                "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "ApiTargets"}}],
            },
        },
    }
