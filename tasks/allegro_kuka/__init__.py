"""Allegro-Kuka (DexPBT) benchmark tasks on MuJoCo: one arm (regrasping, reorientation, throw) and two
arms (regrasping, reorientation + EPO's partition / hole / barrier variants).

Kept light: nothing heavy is imported here. Factories: ``tasks.allegro_kuka.registry``.
"""
