"""Makes a local S3 (moto, started with INITIAL_NO_AUTH_ACTION_COUNT=3) check signatures as S3
does: an IAM user allowed s3:* and its access key, made with the three unsigned requests moto
allows; then the bucket, made with that key. Prints "ACCESS_KEY_ID SECRET_ACCESS_KEY".
    s3_provision.py ENDPOINT BUCKET
"""
import json
import sys

import boto3

endpoint, bucket = sys.argv[1], sys.argv[2]
unsigned = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **unsigned)
iam.create_user(UserName="halfsize")
iam.put_user_policy(UserName="halfsize", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="halfsize")["AccessKey"]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
s3.create_bucket(Bucket=bucket)
print(key["AccessKeyId"], key["SecretAccessKey"])
