#!/bin/bash
#BSUB -J golden-42e61b40.bundle.f4e2c0574bd9f2e7
#BSUB -cwd '/srv/vf project'
#BSUB -o '/srv/vf project/.vf/logs/%J.out'
#BSUB -q short
#BSUB -n 2
#BSUB -gpu "num=2"
#BSUB -M 4096MB
#BSUB -W 03:30
#BSUB -w "done(77)"

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 53d21dfb7b3e4ffc83a7bbe3f8aefc3e
node '/srv/vf project/project.js' run -o '^ex$' -j 53d21dfb7b3e4ffc83a7bbe3f8aefc3e --parallel 2

# ex(op1, op2) on job 96d730b7a405ed0e9cb1068b43e06fe4
node '/srv/vf project/project.js' run -o '^ex$' -j 96d730b7a405ed0e9cb1068b43e06fe4 --parallel 2
