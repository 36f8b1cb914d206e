// The scheduler script templates (Eta syntax: `<%= %>` prints, `<% %>` runs code, `it` is the data).
// Each scheduler template writes its header lines and hands them to `@base` as `it.body`, the way
// signac-flow's templates extend base_script.sh; a project can replace any of them by name.

/** The shell script around every scheduler's header: the commands that run the groups. */
export const BASE_TEMPLATE = `#!/bin/bash
<%~ it.body -%>

set -e
set -u
cd <%~ it.quote(it.root) %>
<% it.commands.forEach(function (entry) { -%>

# <%~ entry.group %>(<%~ entry.operations.join(', ') %>) on job <%~ entry.job %>
<%~ entry.command %><%~ it.parallel ? ' &' : '' %>
<% }) -%>
<% if (it.parallel) { -%>
# wait for each command, so that any failure fails the script
for pid in $(jobs -p); do wait "$pid"; done
<% } -%>
`;

/** SLURM header (`#SBATCH`). GPUs are requested with `--gres=gpu:N`. */
export const SLURM_TEMPLATE = `<% layout('@base') -%>
#SBATCH --job-name=<%~ it.name %>
#SBATCH --chdir=<%~ it.quote(it.root) %>
#SBATCH --output=<%~ it.quote(it.logDir + '/%j.out') %>
<% if (it.partition) { -%>
#SBATCH --partition=<%~ it.partition %>
<% } -%>
#SBATCH --nodes=1
#SBATCH --ntasks=<%~ it.directives.np %>
<% if (it.directives.ngpu > 0) { -%>
#SBATCH --gres=gpu:<%~ it.directives.ngpu %>
<% } -%>
<% if (it.memory) { -%>
#SBATCH --mem=<%~ it.memory.slurm %>
<% } -%>
<% if (it.walltime) { -%>
#SBATCH --time=<%~ it.walltime.slurm %>
<% } -%>
<% if (it.hold) { -%>
#SBATCH --hold
<% } -%>
<% if (it.after) { -%>
#SBATCH --dependency=afterok:<%~ it.after %>
#SBATCH --kill-on-invalid-dep=yes
<% } -%>
`;

/** PBS/Torque header (`#PBS`). */
export const PBS_TEMPLATE = `<% layout('@base') -%>
#PBS -N <%~ it.name %>
#PBS -V
#PBS -j oe
#PBS -o <%~ it.quote(it.logDir + '/') %>
<% if (it.partition) { -%>
#PBS -q <%~ it.partition %>
<% } -%>
#PBS -l nodes=1:ppn=<%~ it.directives.np %><%~ it.directives.ngpu > 0 ? ':gpus=' + it.directives.ngpu : '' %>
<% if (it.memory) { -%>
#PBS -l mem=<%~ it.memory.pbs %>
<% } -%>
<% if (it.walltime) { -%>
#PBS -l walltime=<%~ it.walltime.hms %>
<% } -%>
<% if (it.hold) { -%>
#PBS -h
<% } -%>
<% if (it.after) { -%>
#PBS -W depend=afterok:<%~ it.after %>
<% } -%>
`;

/** LSF header (`#BSUB`). */
export const LSF_TEMPLATE = `<% layout('@base') -%>
#BSUB -J <%~ it.name %>
#BSUB -cwd <%~ it.quote(it.root) %>
#BSUB -o <%~ it.quote(it.logDir + '/%J.out') %>
<% if (it.partition) { -%>
#BSUB -q <%~ it.partition %>
<% } -%>
#BSUB -n <%~ it.directives.np %>
<% if (it.directives.ngpu > 0) { -%>
#BSUB -gpu "num=<%~ it.directives.ngpu %>"
<% } -%>
<% if (it.memory) { -%>
#BSUB -M <%~ it.memory.mb %>MB
<% } -%>
<% if (it.walltime) { -%>
#BSUB -W <%~ it.walltime.hm %>
<% } -%>
<% if (it.hold) { -%>
#BSUB -H
<% } -%>
<% if (it.after) { -%>
#BSUB -w "done(<%~ it.after %>)"
<% } -%>
`;
