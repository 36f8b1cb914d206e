#!/bin/bash
#SBATCH --job-name=golden-42e61b40.53d21dfb7b3e4ffc83a7bbe3f8aefc3e.ex
#SBATCH --chdir='/srv/vf project'
#SBATCH --output='/srv/vf project/.vf/logs/%j.out'
#SBATCH --partition=debug
#SBATCH --nodes=1
#SBATCH --ntasks=2
#SBATCH --gres=gpu:2
#SBATCH --mem=4G
#SBATCH --time=01:45:00
#SBATCH --hold

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 53d21dfb7b3e4ffc83a7bbe3f8aefc3e
node '/srv/vf project/project.js' run -o '^ex$' -j 53d21dfb7b3e4ffc83a7bbe3f8aefc3e --parallel 2

# ---- next cluster job ----
#!/bin/bash
#SBATCH --job-name=golden-42e61b40.96d730b7a405ed0e9cb1068b43e06fe4.ex
#SBATCH --chdir='/srv/vf project'
#SBATCH --output='/srv/vf project/.vf/logs/%j.out'
#SBATCH --partition=debug
#SBATCH --nodes=1
#SBATCH --ntasks=2
#SBATCH --gres=gpu:2
#SBATCH --mem=4G
#SBATCH --time=01:45:00
#SBATCH --hold

set -e
set -u
cd '/srv/vf project'

# ex(op1, op2) on job 96d730b7a405ed0e9cb1068b43e06fe4
node '/srv/vf project/project.js' run -o '^ex$' -j 96d730b7a405ed0e9cb1068b43e06fe4 --parallel 2
