"""Adrastea configurations shared by the Slurm tests."""

#: One Slurm environment on the dev cluster's debug partition, with open choices.
DEBUG_ENVIRONMENT = """
[[environments]]
name = "debug"
display_name = "Python in the debug partition"
kernelspec = "python3"
placement = "slurm"
[environments.slurm]
partition = "debug"
time = { default = "00:10:00", choices = ["00:10:00", "00:20:00"] }
cpus = { default = 1, min = 1, max = 4 }
"""
