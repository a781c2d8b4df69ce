/* Factory start/stop bookkeeping (Twisted's Factory.doStart / doStop): start_factory runs when the
 * first port or connection starts using a factory, stop_factory after the last one is done. */
#include <errno.h>

#include "twine/protocol.h"

int tw_factory_do_start(tw_factory *f)
{
    if (!f)
        return -EINVAL;
    if (f->num_ports == 0 && f->ops && f->ops->start_factory) {
        int rc = f->ops->start_factory(f);
        if (rc < 0)
            return rc;
    }
    f->num_ports++;
    return 0;
}

void tw_factory_do_stop(tw_factory *f)
{
    if (!f || f->num_ports == 0)
        return;
    if (--f->num_ports == 0 && f->ops && f->ops->stop_factory)
        f->ops->stop_factory(f);
}
