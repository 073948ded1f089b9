import os

# Configuration comes from the environment; nothing secret lives in the tree.
DATABASE_URL = os.environ["DATABASE_URL"]
API_TIMEOUT_SECONDS = 30


def handler(event):
    return {"status": 200, "timeout": API_TIMEOUT_SECONDS}
