import os
TOKEN = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
password = os.environ["PW"]
key = "AKIAXXXXXXXXXXXXXXXX"
