#!/bin/bash
#BSUB -J golden-42e61b40.53d21dfb7b3e4ffc83a7bbe3f8aefc3e.ex
#BSUB -cwd '/srv/vf project'
#BSUB -o '/srv/vf project/.vf/logs/%J.out'
#BSUB -n 2
#BSUB -gpu "num=2"
#BSUB -M 4096MB
#BSUB -W 01:45
#BSUB -H

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 53d21dfb7b3e4ffc83a7bbe3f8aefc3e
node '/srv/vf project/project.js' run -o '^ex$' -j 53d21dfb7b3e4ffc83a7bbe3f8aefc3e --parallel 2

# ---- next cluster job ----
#!/bin/bash
#BSUB -J golden-42e61b40.96d730b7a405ed0e9cb1068b43e06fe4.ex
#BSUB -cwd '/srv/vf project'
#BSUB -o '/srv/vf project/.vf/logs/%J.out'
#BSUB -n 2
#BSUB -gpu "num=2"
#BSUB -M 4096MB
#BSUB -W 01:45
#BSUB -H

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 96d730b7a405ed0e9cb1068b43e06fe4
node '/srv/vf project/project.js' run -o '^ex$' -j 96d730b7a405ed0e9cb1068b43e06fe4 --parallel 2
