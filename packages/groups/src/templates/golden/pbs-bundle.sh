#!/bin/bash
#PBS -N golden-42e61b40.bundle.f4e2c0574bd9f2e7
#PBS -V
#PBS -j oe
#PBS -o '/srv/vf project/.vf/logs/'
#PBS -l nodes=1:ppn=4:gpus=4
#PBS -l mem=8gb
#PBS -l walltime=01:45:00

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 53d21dfb7b3e4ffc83a7bbe3f8aefc3e
node '/srv/vf project/project.js' run -o '^ex$' -j 53d21dfb7b3e4ffc83a7bbe3f8aefc3e --parallel 2 &

# ex(op1, op2) on job 96d730b7a405ed0e9cb1068b43e06fe4
node '/srv/vf project/project.js' run -o '^ex$' -j 96d730b7a405ed0e9cb1068b43e06fe4 --parallel 2 &
# wait for each command, so that any failure fails the script
for pid in $(jobs -p); do wait "$pid"; done
