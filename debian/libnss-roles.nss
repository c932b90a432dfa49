# Right after files: the host's own accounts answer first (as roles itself insists), and roles
# answers before systemd's synthesized and dynamic users, whose ids roles never serves.
passwd after=files roles
group  after=files roles
shadow after=files roles
