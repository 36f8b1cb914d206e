#!/bin/bash
#PBS -N golden-42e61b40.53d21dfb7b3e4ffc83a7bbe3f8aefc3e.ex
#PBS -V
#PBS -j oe
#PBS -o '/srv/vf project/.vf/logs/'
#PBS -l nodes=1:ppn=2:gpus=2
#PBS -l mem=4gb
#PBS -l walltime=01:45:00
#PBS -W depend=afterok:1234.server

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 53d21dfb7b3e4ffc83a7bbe3f8aefc3e
node '/srv/vf project/project.js' run -o '^ex$' -j 53d21dfb7b3e4ffc83a7bbe3f8aefc3e --parallel 2

# ---- next cluster job ----
#!/bin/bash
#PBS -N golden-42e61b40.96d730b7a405ed0e9cb1068b43e06fe4.ex
#PBS -V
#PBS -j oe
#PBS -o '/srv/vf project/.vf/logs/'
#PBS -l nodes=1:ppn=2:gpus=2
#PBS -l mem=4gb
#PBS -l walltime=01:45:00
#PBS -W depend=afterok:1234.server

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 96d730b7a405ed0e9cb1068b43e06fe4
node '/srv/vf project/project.js' run -o '^ex$' -j 96d730b7a405ed0e9cb1068b43e06fe4 --parallel 2
