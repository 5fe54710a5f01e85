"""AWS adapters shared by the Lambda functions that carry the layer (processing, sweeper, push).

Beside `memberseg`, not inside it: the engine never imports boto3, this package may (boto3 comes
with the Lambda runtime and is not installed into the layer). Each function's own storage module
keeps the adapters only it uses.
"""
